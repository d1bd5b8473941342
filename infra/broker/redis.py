"""Redis Streams: consumer groups read by FastStream subscribers.

FastStream's normal subscriber never re-delivers what a crashed consumer left pending, so each
group has two: a reader of new messages and a reclaimer (XAUTOCLAIM) of messages pending longer
than `redeliver_after_s`. Bodies come as FastStream's `__data__` or as a plain `data` field.
"""

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.redis import BinaryMessageFormatV1, RedisBroker, StreamSub
from faststream.redis.message import BatchStreamMessage, RedisBatchStreamMessage
from redis.exceptions import ResponseError

from infra.broker.transport import (
    KEEP_ALIVE_SHARE,
    BatchHandler,
    Binding,
    Group,
    RawMessage,
    Subscriber,
    kept_alive,
)

RECLAIM_POLL_MS = 1000
"""How often (at most) a reclaimer looks for messages pending too long."""
FASTSTREAM_FIELD = b"__data__"  # FastStream's own binary format
RAW_FIELD = b"data"  # a plain `XADD <stream> * data <body>`


class RedisTransport:
    """The transport over Redis Streams (see `infra.broker.transport.Transport`)."""

    def __init__(self, broker: RedisBroker) -> None:
        self.broker = broker
        self.bindings: list[Binding] = []

    def subscribe(self, group: Group, handle: BatchHandler) -> None:
        """A reader of new messages plus a reclaimer of messages pending too long (batches
        of 1); ack each batch once `handle` returned."""
        idle_ms = round(group.redeliver_after_s * 1000)
        common: dict[str, Any] = {
            "group": group.name, "consumer": group.consumer, "batch": True,
            "max_records": group.batch_size,
        }  # fmt: skip
        reader = self.broker.subscriber(
            stream=StreamSub(group.channel, **common),
            ack_policy=AckPolicy.NACK_ON_ERROR,  # nack is a no-op on Redis: it stays pending
            parser=parse_opaque_batch,
            title=f"{group.channel}:{group.name}",
        )
        reclaimer = self.broker.subscriber(
            stream=StreamSub(
                group.channel,
                min_idle_time=idle_ms,
                polling_interval=min(RECLAIM_POLL_MS, idle_ms),
                **common,
            ),
            ack_policy=AckPolicy.NACK_ON_ERROR,
            parser=parse_opaque_batch,
            title=f"{group.channel}:{group.name}:reclaim",
        )

        async def settle(raw: BatchStreamMessage, counts: Mapping[bytes, int]) -> None:
            async def claim() -> None:
                await self.claim(group, raw["message_ids"])

            async with kept_alive(claim, group.redeliver_after_s * KEEP_ALIVE_SHARE):
                await handle(redis_messages(raw, counts))

        @reader
        async def on_new(message: Annotated[RedisBatchStreamMessage, Context("message")]) -> None:
            await settle(message.raw_message, {})

        @reclaimer
        async def on_reclaimed(
            message: Annotated[RedisBatchStreamMessage, Context("message")],
        ) -> None:
            entry_ids = message.raw_message["message_ids"]
            await settle(message.raw_message, await self.delivery_counts(group, entry_ids))

        subscribers: tuple[Subscriber, ...] = (reader, reclaimer)
        self.bindings.append(Binding(group, subscribers))

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

    async def publish(
        self,
        channel: str,
        bodies: Sequence[bytes],
        *,
        maxlen: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> None:
        """XADD each body as field `data`, in one round trip (`ids` mean nothing here)."""
        client = await self.broker.connect()
        async with client.pipeline(transaction=False) as pipe:
            for body in bodies:
                pipe.xadd(channel, {RAW_FIELD: body}, maxlen=maxlen, approximate=True)
            await pipe.execute()

    async def publish_faststream(self, channel: str, bodies: Sequence[bytes]) -> None:
        """Publish in FastStream's format, in one round trip."""
        client = await self.broker.connect()
        async with client.pipeline(transaction=False) as pipe:
            for body in bodies:
                await self.broker.publish(body, stream=channel, pipeline=pipe)
            await pipe.execute()

    async def pending(self, channel: str, group: str) -> int:
        """XPENDING's count."""
        client = await self.broker.connect()
        return int((await client.xpending(channel, group))["pending"])

    async def claim(self, group: Group, entry_ids: Sequence[bytes]) -> None:
        """Reset the idle time of entries this consumer holds, so no reclaimer takes them;
        JUSTID leaves their delivery counts as they are."""
        client = await self.broker.connect()
        await client.xclaim(
            group.channel, group.name, group.consumer, 0, list(entry_ids), justid=True
        )

    async def delivery_counts(self, group: Group, entry_ids: Sequence[bytes]) -> dict[bytes, int]:
        """How often each pending entry has been delivered (XPENDING, in one round trip)."""
        client = await self.broker.connect()
        async with client.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xpending_range(group.channel, group.name, min=entry_id, max=entry_id, count=1)
            replies: list[list[dict[str, Any]]] = await pipe.execute()
        return {
            entry_id: int(reply[0]["times_delivered"])
            for entry_id, reply in zip(entry_ids, replies, strict=True)
            if reply
        }


async def parse_opaque_batch(
    message: BatchStreamMessage,
    original: Callable[[BatchStreamMessage], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's batch parser with the bodies hidden from it: it fails on non-UTF-8 bytes."""
    parsed = await original({**message, "data": [{} for _ in message["data"]]})
    parsed.raw_message = message
    return parsed


def redis_messages(raw: BatchStreamMessage, counts: Mapping[bytes, int]) -> list[RawMessage]:
    """The entries of a batch; a delivery count not in `counts` is 1."""
    return [
        RawMessage(entry_body(fields), entry_id.decode(), counts.get(entry_id, 1))
        for entry_id, fields in zip(raw["message_ids"], raw["data"], strict=True)
    ]


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
