"""Redis Streams: consumer groups, read by a FastStream subscriber and our own reclaimer.

FastStream's normal subscriber never re-delivers what a crashed consumer left pending, and its
reclaiming subscriber takes one message per call, so a backlog left by a dead consumer would
drain slowly. Each group therefore has a FastStream reader of new messages and a
`RedisReclaimer` that takes over messages pending longer than `redeliver_after_s` with
XAUTOCLAIM, a whole batch at a time. Bodies come as FastStream's `__data__` or as a plain
`data` field.

After each acknowledged batch the stream is trimmed to the oldest entry some group has not
settled (pending, or not delivered yet): the broker's memory holds only unsettled messages. A
stream no group reads is capped at `max_entries`. A source's user may only XADD to its
stream, but XADD's own arguments can trim the stream (`MAXLEN 0`) or wedge it (an id no later
entry can exceed), and no ACL of Redis 6 or 7 restricts arguments; so the trimming also watches
for both: an entry id in the far future (the stream is repaired once everything in it is
settled) and entries deleted that a group had not read; each is logged as an error.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

import structlog
from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.redis import BinaryMessageFormatV1, RedisBroker, StreamSub
from faststream.redis.message import BatchStreamMessage, RedisBatchStreamMessage
from redis.exceptions import ResponseError

from infra.broker.transport import (
    KEEP_ALIVE_SHARE,
    BatchHandler,
    Binding,
    ChannelDoc,
    Group,
    RawMessage,
    Subscriber,
    declared_handler,
    kept_alive,
)

log = structlog.get_logger()
RECLAIM_POLL_MS = 1000
"""How often (at most) a reclaimer looks for messages pending too long."""
FASTSTREAM_FIELD = b"__data__"  # FastStream's own binary format
RAW_FIELD = b"data"  # a plain `XADD <stream> * data <body>`
MAX_SEQUENCE = 2**64 - 1
"""The largest part of a stream entry id (`<ms>-<seq>`)."""
WEDGED_AFTER_MS = 24 * 3600 * 1000
"""An entry id more than this far ahead of the clock wedges its stream: `XADD *` fails."""
REPAIR_WEDGED = """
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
local last = nil
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
local names = {}
for _, group in ipairs(groups) do
  local fields = {}
  for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
  if fields['pending'] ~= 0 or fields['last-delivered-id'] ~= last then return 0 end
  table.insert(names, fields['name'])
end
redis.call('DEL', KEYS[1])
for _, name in ipairs(names) do
  redis.call('XGROUP', 'CREATE', KEYS[1], name, '0', 'MKSTREAM')
end
return 1
"""
"""Atomically: when every group has read and settled everything of a wedged stream, delete it
and create its groups again at the start of the new, empty stream (the ids start anew)."""


def describing_broker(url: str, channels: Sequence[ChannelDoc]) -> RedisBroker:
    """A broker, never connected, declaring `channels` with their models for AsyncAPI."""
    broker = RedisBroker(url, description="Redis Streams")
    for channel in channels:
        if channel.group is None:
            broker.publisher(stream=channel.name, title=channel.name, schema=channel.model,
                             description=channel.description)  # fmt: skip
            continue

        broker.subscriber(
            stream=StreamSub(channel.name, group=channel.group, consumer="<host>-<pid>"),
            title=channel.name, description=channel.description,
        )(declared_handler(channel))  # fmt: skip
    return broker


class RedisTransport:
    """The transport over Redis Streams (see `infra.broker.transport.Transport`)."""

    def __init__(self, broker: RedisBroker, *, max_entries: int) -> None:
        self.broker = broker
        self.max_entries = max_entries
        self.bindings: list[Binding] = []

    async def connect(self) -> None:
        """Connect FastStream's client."""
        await self.broker.connect()

    async def start(self) -> None:
        """Start FastStream's readers."""
        await self.broker.start()

    async def close(self) -> None:
        """Stop FastStream's readers and disconnect."""
        await self.broker.stop()

    def subscribe(self, group: Group, handle: BatchHandler) -> None:
        """A FastStream reader of new messages plus our own reclaimer of messages pending too
        long (FastStream's reclaims one message per call); ack each batch once `handle`
        returned."""
        reader = self.broker.subscriber(
            stream=StreamSub(
                group.channel, group=group.name, consumer=group.consumer, batch=True,
                max_records=group.batch_size,
            ),
            ack_policy=AckPolicy.NACK_ON_ERROR,  # nack is a no-op on Redis: it stays pending
            parser=parse_opaque_batch,
            title=f"{group.channel}:{group.name}",
        )  # fmt: skip

        @reader
        async def on_new(message: Annotated[RedisBatchStreamMessage, Context("message")]) -> None:
            raw = message.raw_message
            await self.settle(group, handle, redis_messages(raw["message_ids"], raw["data"], {}))
            await message.ack()
            await self.trimmed(group.channel)

        subscribers: tuple[Subscriber, ...] = (reader, RedisReclaimer(self, group, handle))
        self.bindings.append(Binding(group, subscribers))

    async def settle(self, group: Group, handle: BatchHandler, messages: list[RawMessage]) -> None:
        """Hand a batch over, keeping it claimed while `handle` runs."""

        async def claim() -> None:
            await self.claim(group, [message.message_id for message in messages])

        async with kept_alive(claim, group.redeliver_after_s * KEEP_ALIVE_SHARE):
            await handle(messages)

    async def recover(self) -> list[Group]:
        """Create the missing groups at the start of their streams (FastStream would create
        them at "$", and stops their subscribers on NOGROUP); return them."""
        client = await self.broker.connect()
        created = []
        for binding in self.bindings:
            group = binding.group
            try:
                await client.xgroup_create(group.channel, group.name, id="0", mkstream=True)
                created.append(group)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
        return created

    async def publish(self, channel: str, bodies: Sequence[bytes]) -> None:
        """XADD each body as field `data`, in one round trip."""
        client = await self.broker.connect()
        async with client.pipeline(transaction=False) as pipe:
            for body in bodies:
                pipe.xadd(channel, {RAW_FIELD: body})
            await pipe.execute()

    async def trim(self, channel: str) -> None:
        """XTRIM MINID to the oldest entry a group has not settled; a stream no group reads
        XTRIM MAXLEN `max_entries`. Reports a wedged stream (and repairs it once settled)
        and entries deleted before every group read them."""
        client = await self.broker.connect()
        async with client.pipeline(transaction=False) as pipe:
            pipe.xinfo_stream(channel)
            pipe.xinfo_groups(channel)
            replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(reply, ResponseError) for reply in replies):
            return  # no such stream (yet, or any more)
        stream, groups = replies
        if not groups:
            await client.xtrim(channel, maxlen=self.max_entries, approximate=False)
            return
        await self.report_tampering(channel, stream, groups)
        await client.xtrim(channel, minid=await self.oldest_unsettled(channel, groups),
                           approximate=False)  # fmt: skip

    async def trimmed(self, channel: str) -> None:
        """`trim`, a failure only logged: the next batch's trim catches up."""
        try:
            await self.trim(channel)
        except Exception as error:
            log.warning("cannot trim the stream", channel=channel, error=str(error))

    async def oldest_unsettled(self, channel: str, groups: Sequence[Mapping[str, Any]]) -> str:
        """The oldest entry id some group has not settled: its oldest pending entry, else the
        one after the last it was delivered (XTRIM MINID keeps this id and every later one).
        Entries settled after `groups` was read only make the answer older than it could be."""
        client = await self.broker.connect()
        busy = [group["name"] for group in groups if int(group["pending"])]
        async with client.pipeline(transaction=False) as pipe:
            for name in busy:
                pipe.xpending(channel, name)
            summaries = await pipe.execute()
        firsts = [as_id(summary["min"]) for summary in summaries if summary["min"]]
        firsts += [following(as_id(group["last-delivered-id"])) for group in groups]
        return id_text(min(firsts))

    async def report_tampering(
        self, channel: str, stream: Mapping[str, Any], groups: Sequence[Mapping[str, Any]]
    ) -> None:
        """Log a stream wedged by an id in the far future (and repair it once everything in it
        is settled), and entries deleted (Redis 7 tells) that a group had not read."""
        last = as_id(stream["last-generated-id"])
        if last[0] > time.time() * 1000 + WEDGED_AFTER_MS:
            client = await self.broker.connect()
            repaired = bool(await client.eval(REPAIR_WEDGED, 1, channel))
            log.error(
                "stream wedged by an entry id in the far future: XADD * fails on it",
                channel=channel, last_id=id_text(last), repaired=repaired,
            )  # fmt: skip
        deleted = stream.get("max-deleted-entry-id")
        if deleted is None:
            return  # Redis 6 does not tell
        unread = [
            group["name"] for group in groups if as_id(deleted) > as_id(group["last-delivered-id"])
        ]
        if unread and as_id(deleted) != (0, 0):
            log.error(
                "entries were deleted from the stream before every group read them",
                channel=channel, max_deleted_id=as_text(deleted), groups=unread,
            )  # fmt: skip

    async def pending(self, channel: str, group: str) -> int:
        """XPENDING's count."""
        client = await self.broker.connect()
        return int((await client.xpending(channel, group))["pending"])

    async def claim(self, group: Group, entry_ids: Sequence[bytes | str]) -> None:
        """Reset the idle time of entries this consumer holds, so no reclaimer takes them;
        JUSTID leaves their delivery counts as they are."""
        client = await self.broker.connect()
        await client.xclaim(
            group.channel, group.name, group.consumer, 0, list(entry_ids), justid=True
        )

    async def delivery_counts(self, group: Group, entry_ids: Sequence[bytes]) -> dict[bytes, int]:
        """How often each pending entry of this consumer has been delivered: one XPENDING over
        the range the entries span (a reclaimed batch is one stretch of the pending list), then
        one per entry for any that range did not cover."""
        if not entry_ids:
            return {}
        client = await self.broker.connect()
        ordered = sorted(entry_ids, key=stream_order)
        spanned = await client.xpending_range(
            group.channel, group.name, min=ordered[0], max=ordered[-1],
            count=len(entry_ids) * 2, consumername=group.consumer,
        )  # fmt: skip
        wanted = set(entry_ids)
        counts = {
            row["message_id"]: int(row["times_delivered"])
            for row in spanned
            if row["message_id"] in wanted
        }
        missing = [entry_id for entry_id in entry_ids if entry_id not in counts]
        if missing:
            async with client.pipeline(transaction=False) as pipe:
                for entry_id in missing:
                    pipe.xpending_range(group.channel, group.name, min=entry_id, max=entry_id,
                                        count=1)  # fmt: skip
                replies: list[list[dict[str, Any]]] = await pipe.execute()
            counts |= {
                entry_id: int(reply[0]["times_delivered"])
                for entry_id, reply in zip(missing, replies, strict=True)
                if reply
            }
        return counts


async def parse_opaque_batch(
    message: BatchStreamMessage,
    original: Callable[[BatchStreamMessage], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's batch parser with the bodies hidden from it: it fails on non-UTF-8 bytes."""
    parsed = await original({**message, "data": [{} for _ in message["data"]]})
    parsed.raw_message = message
    return parsed


def redis_messages(
    entry_ids: Sequence[bytes],
    entries: Sequence[Mapping[bytes, bytes] | None],
    counts: Mapping[bytes, int],
) -> list[RawMessage]:
    """The entries of a batch; a delivery count not in `counts` is 1."""
    return [
        RawMessage(entry_body(fields), entry_id.decode(), counts.get(entry_id, 1))
        for entry_id, fields in zip(entry_ids, entries, strict=True)
    ]


def stream_order(entry_id: bytes) -> tuple[int, int]:
    """A stream entry id (`<ms>-<seq>`) as a sortable pair."""
    millis, _, sequence = entry_id.partition(b"-")
    return int(millis), int(sequence or 0)


def as_text(entry_id: bytes | str) -> str:
    """An entry id as redis-py returns it, as text."""
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def as_id(entry_id: bytes | str) -> tuple[int, int]:
    """An entry id as redis-py returns it, as a sortable pair."""
    return stream_order(as_text(entry_id).encode())


def id_text(entry_id: tuple[int, int]) -> str:
    """An entry id as Redis writes it."""
    return f"{entry_id[0]}-{entry_id[1]}"


def following(entry_id: tuple[int, int]) -> tuple[int, int]:
    """The smallest entry id after `entry_id` (itself for the largest id there is)."""
    millis, sequence = entry_id
    if sequence < MAX_SEQUENCE:
        return millis, sequence + 1
    return (millis + 1, 0) if millis < MAX_SEQUENCE else entry_id


def entry_body(fields: Mapping[bytes, bytes] | None) -> bytes:
    """A stream entry's body: FastStream's `__data__`, else a plain `data` field, as bytes."""
    if not fields:
        return b""  # the entry was trimmed away while pending
    if FASTSTREAM_FIELD in fields:
        return BinaryMessageFormatV1.parse(fields[FASTSTREAM_FIELD])[0]
    if RAW_FIELD in fields:
        return fields[RAW_FIELD]
    # Neither field: hand over all fields as JSON text, so the handler can reject it with context.
    text = {
        key.decode(errors="replace"): value.decode(errors="replace")
        for key, value in fields.items()
    }
    return json.dumps(text).encode()


class RedisReclaimer:
    """Takes over, in batches, the messages of its group pending longer than
    `redeliver_after_s` (those of a consumer that died or failed), with their delivery counts;
    acks a batch once `handle` returned."""

    def __init__(self, transport: RedisTransport, group: Group, handle: BatchHandler) -> None:
        self.transport, self.group, self.handle = transport, group, handle
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    @property
    def running(self) -> bool:
        """Whether the reclaim loop is alive."""
        return self.task is not None and not self.task.done()

    async def start(self) -> None:
        """Start reclaiming."""
        self.stopping = False
        self.task = asyncio.create_task(self.reclaim())

    async def stop(self) -> None:
        """Stop reclaiming; a batch in hand stays pending and is reclaimed again later."""
        if self.task is not None:
            # The flag too: redis-py may turn a cancellation in flight into a ConnectionError.
            self.stopping = True
            self.task.cancel()
            await asyncio.wait([self.task])
            self.task = None

    async def reclaim(self) -> None:
        """Sweep the pending entries list until cancelled; pause unless a full batch came."""
        group, cursor = self.group, b"0-0"
        idle_ms = round(group.redeliver_after_s * 1000)
        while not self.stopping:
            entries: list[tuple[bytes, Mapping[bytes, bytes] | None]] = []
            try:
                client = await self.transport.broker.connect()
                reply = await client.xautoclaim(
                    group.channel, group.name, group.consumer, idle_ms, cursor,
                    count=group.batch_size,
                )  # fmt: skip
                cursor, entries = reply[0], reply[1]
                if entries:
                    await self.settle([entry_id for entry_id, _ in entries],
                                      [fields for _, fields in entries])  # fmt: skip
            except Exception as error:  # NOGROUP, connection lost, handler failed: try later
                if self.stopping:
                    return
                log.warning("cannot reclaim", channel=group.channel, error=str(error))
                cursor = b"0-0"
            if len(entries) < group.batch_size:
                await asyncio.sleep(min(RECLAIM_POLL_MS, idle_ms) / 1000)

    async def settle(
        self, entry_ids: list[bytes], entries: list[Mapping[bytes, bytes] | None]
    ) -> None:
        """Hand the reclaimed batch over with its delivery counts, then ack it."""
        counts = await self.transport.delivery_counts(self.group, entry_ids)
        messages = redis_messages(entry_ids, entries, counts)
        await self.transport.settle(self.group, self.handle, messages)
        client = await self.transport.broker.connect()
        await client.xack(self.group.channel, self.group.name, *entry_ids)
        await self.transport.trimmed(self.group.channel)
