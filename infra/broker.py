"""The broker factory and everything that differs between brokers: subscribing, acking, publishing.

Chosen by URL: `redis://` (Redis Streams consumer groups, read by FastStream subscribers) or
`nats://` (JetStream durable pull consumers, pulled by `NatsPuller` over the FastStream broker's
connection). Every subscription hands its handler batches of `RawMessage`, the same on each
broker; subscribe first, then run the broker with `running`.

Invariants:
* a batch is acknowledged only after its handler returned; when the handler raises, nothing is
  acknowledged and the batch is delivered again after `redeliver_after_s` (Redis: a reclaiming
  subscriber takes over messages pending that long, also those of a dead consumer; NATS: a
  delayed NAK, or `ack_wait` when the consumer died), with a higher `delivery_count`;
* bodies reach the handler as raw bytes, whatever they are: no FastStream decoding runs on them;
* a consumer group starts at the beginning of its stream, so messages published before the first
  consumer started are delivered too; `running` recreates a group lost with the broker's data
  (Redis restarted empty: "NOGROUP") and restarts the subscribers FastStream stopped because of it.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeAlias
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import structlog
from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.nats import NatsBroker
from faststream.redis import BinaryMessageFormatV1, RedisBroker, StreamSub
from faststream.redis.message import BatchStreamMessage, RedisBatchStreamMessage
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import BadRequestError, NoStreamResponseError, NotFoundError
from redis.exceptions import ResponseError

Broker: TypeAlias = RedisBroker | NatsBroker
BatchHandler = Callable[[list["RawMessage"]], Awaitable[None]]

REDIS_SCHEMES = ("redis", "rediss", "unix")
NATS_SCHEMES = ("nats", "tls")
REDELIVER_AFTER_S = 30.0
"""A message unacknowledged this long (its consumer failed or died) is delivered again."""
RECLAIM_POLL_MS = 1000
"""How often (at most) a Redis reclaimer looks for messages pending too long."""
NATS_FETCH_WAIT_S = 0.5
"""How long one NATS pull request waits for a first message (it returns as soon as any came)."""
NATS_RETRY_PAUSE_S = 1.0
"""Pause before pulling again after a NATS error."""
WATCH_INTERVAL_S = 5.0
"""How often `running` checks that every consumer group still exists."""
FASTSTREAM_FIELD = b"__data__"  # FastStream's own binary format (Redis)
RAW_FIELD = b"data"  # a plain `XADD <stream> * data <body>` (Redis)

log = structlog.get_logger()


class UnsupportedBroker(ValueError):
    """The URL names a broker this project has no transport for."""


@dataclass(frozen=True)
class RawMessage:
    """One message as the broker holds it."""

    body: bytes
    message_id: str
    """Redis stream entry id or JetStream stream sequence: the same on every redelivery."""
    delivery_count: int
    """1 on the first delivery."""


@dataclass(frozen=True)
class Group:
    """A consumer group (Redis) or durable pull consumer (NATS) reading one channel."""

    channel: str
    name: str
    consumer: str
    """This replica's name within the group (Redis); NATS replicas share the durable consumer."""
    batch_size: int
    redeliver_after_s: float = REDELIVER_AFTER_S


class Subscriber(Protocol):
    """What `running` and the watchdog need of a subscriber."""

    @property
    def running(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Binding:
    """A group and the subscribers that read it, for the watchdog."""

    group: Group
    subscribers: tuple[Subscriber, ...]


BINDINGS: WeakKeyDictionary[Broker, list[Binding]] = WeakKeyDictionary()


def create_broker(url: str, *, logger: logging.Logger | None = None) -> Broker:
    """The FastStream broker for `url` (`redis://...` or `nats://...`), not yet connected."""
    scheme = urlsplit(url).scheme
    options: dict[str, Any] = {
        "logger": logger or logging.getLogger("zs.broker"),  # propagates to the root handler
        "log_level": logging.DEBUG,  # one line per batch received: the services log outcomes
    }
    if scheme in REDIS_SCHEMES:
        return RedisBroker(url, **options)
    if scheme in NATS_SCHEMES:
        return NatsBroker(url, **options)
    raise UnsupportedBroker(
        f"broker URL scheme {scheme!r} is not supported: use redis:// or nats:// "
        "(FastStream also speaks Kafka and RabbitMQ, but this project has no transport for them)"
    )


def subscribe_batches(broker: Broker, group: Group, handle: BatchHandler) -> None:
    """Deliver the group's messages to `handle` in batches (from `running` on); ack each batch
    once `handle` returned."""
    if isinstance(broker, RedisBroker):
        subscribers = subscribe_redis(broker, group, handle)
    else:
        subscribers = (NatsPuller(broker, group, handle),)
    BINDINGS.setdefault(broker, []).append(Binding(group, subscribers))


def subscribe_redis(
    broker: RedisBroker, group: Group, handle: BatchHandler
) -> tuple[Subscriber, ...]:
    """A reader of new messages plus a reclaimer of messages pending too long (batches of 1)."""
    idle_ms = round(group.redeliver_after_s * 1000)
    common: dict[str, Any] = {
        "group": group.name, "consumer": group.consumer, "batch": True,
        "max_records": group.batch_size,
    }  # fmt: skip
    reader = broker.subscriber(
        stream=StreamSub(group.channel, **common),
        ack_policy=AckPolicy.NACK_ON_ERROR,  # nack is a no-op on Redis: the batch stays pending
        parser=parse_opaque_batch,
        title=f"{group.channel}:{group.name}",
    )
    reclaimer = broker.subscriber(
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

    @reader
    async def on_new(message: Annotated[RedisBatchStreamMessage, Context("message")]) -> None:
        await handle(redis_messages(message.raw_message, {}))

    @reclaimer
    async def on_reclaimed(
        message: Annotated[RedisBatchStreamMessage, Context("message")],
    ) -> None:
        counts = await redis_delivery_counts(broker, group, message.raw_message["message_ids"])
        await handle(redis_messages(message.raw_message, counts))

    return reader, reclaimer


async def parse_opaque_batch(
    message: BatchStreamMessage,
    original: Callable[[BatchStreamMessage], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's batch parser with the bodies hidden from it: it fails on non-UTF-8 bytes."""
    parsed = await original({**message, "data": [{} for _ in message["data"]]})
    parsed.raw_message = message
    return parsed


def redis_messages(raw: BatchStreamMessage, counts: Mapping[bytes, int]) -> list[RawMessage]:
    """The entries of a Redis batch; a delivery count not in `counts` is 1."""
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


async def redis_delivery_counts(
    broker: RedisBroker, group: Group, entry_ids: Sequence[bytes]
) -> dict[bytes, int]:
    """How often each pending entry has been delivered (XPENDING, in one round trip)."""
    client = await broker.connect()
    async with client.pipeline(transaction=False) as pipe:
        for entry_id in entry_ids:
            pipe.xpending_range(group.channel, group.name, min=entry_id, max=entry_id, count=1)
        replies: list[list[dict[str, Any]]] = await pipe.execute()
    return {
        entry_id: int(reply[0]["times_delivered"])
        for entry_id, reply in zip(entry_ids, replies, strict=True)
        if reply
    }


class NatsPuller:
    """Pulls batches from a durable JetStream consumer: ack after `handle` returned, else a
    delayed NAK (never TERM). Not FastStream's batch subscriber: in 0.7.8 its fetch loop catches
    only nats' TimeoutError, and the plain one nats-py 2.16 raises at a deadline ends the loop
    and strands the partial batch it held until `ack_wait` expires."""

    def __init__(self, broker: NatsBroker, group: Group, handle: BatchHandler) -> None:
        self.broker, self.group, self.handle = broker, group, handle
        self.task: asyncio.Task[None] | None = None
        self.settling = asyncio.Lock()
        self.stopping = False

    @property
    def running(self) -> bool:
        """Whether the pull loop is alive."""
        return self.task is not None and not self.task.done()

    async def start(self) -> None:
        """Create the stream and the durable consumer where missing, then pull."""
        await declare_nats_stream(self.broker, self.group.channel)
        subscription = await self.broker.connection.jetstream().pull_subscribe(
            self.group.channel,
            durable=self.group.name,
            stream=nats_stream_name(self.group.channel),
            config=ConsumerConfig(ack_wait=self.group.redeliver_after_s),
        )
        self.stopping = False
        self.task = asyncio.create_task(self.pull(subscription))

    async def stop(self) -> None:
        """Stop pulling once the batch in hand (if any) is settled."""
        if self.task is None:
            return
        # The flag too: on Python 3.11 nats-py's fetch can swallow a cancellation (wait_for).
        self.stopping = True
        async with self.settling:
            self.task.cancel()
        await asyncio.wait([self.task])
        self.task = None

    async def pull(self, subscription: JetStreamContext.PullSubscription) -> None:
        """Fetch and settle batches until cancelled; the subscription ends with the loop."""
        try:
            while not self.stopping:
                try:
                    messages = await subscription.fetch(
                        self.group.batch_size, timeout=NATS_FETCH_WAIT_S
                    )
                except TimeoutError:  # nothing arrived (nats' TimeoutError or a plain one)
                    continue
                except NatsError as error:  # connection lost, consumer deleted: retry later
                    log.warning("cannot pull", channel=self.group.channel, error=str(error))
                    await asyncio.sleep(NATS_RETRY_PAUSE_S)
                    continue
                async with self.settling:
                    await self.settle(messages)
        finally:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()

    async def settle(self, messages: list[Msg]) -> None:
        """Hand the batch over; ack it when that returned, else NAK it with a delay."""
        try:
            await self.handle([nats_message(msg) for msg in messages])
        except Exception:
            log.exception("batch not settled; it is delivered again", channel=self.group.channel)
            for msg in messages:
                await msg.nak(delay=self.group.redeliver_after_s)  # back off like Redis' reclaim
            return
        for msg in messages:
            await msg.ack()


def nats_message(msg: Msg) -> RawMessage:
    """A JetStream message with its stream sequence and delivery count."""
    metadata = msg.metadata
    return RawMessage(msg.data, str(metadata.sequence.stream), metadata.num_delivered)


def nats_stream_name(channel: str) -> str:
    """The JetStream stream holding `channel` (stream names cannot contain dots)."""
    return channel.replace(".", "_")


async def declare_nats_stream(broker: NatsBroker, channel: str) -> None:
    """Create the stream for `channel` unless it exists."""
    config = StreamConfig(name=nats_stream_name(channel), subjects=[channel])
    with contextlib.suppress(BadRequestError):  # exists, perhaps with FastStream's settings
        await broker.connection.jetstream().add_stream(config)


async def publish_bodies(
    broker: Broker,
    channel: str,
    bodies: Sequence[bytes],
    *,
    maxlen: int | None = None,
    ids: Sequence[str] | None = None,
) -> None:
    """Publish plain bodies in order in one round trip (Redis: field `data`, trimmed to about
    `maxlen`; NATS: `ids` as `Nats-Msg-Id`, so a re-publish within the dedupe window is dropped).
    """
    if isinstance(broker, RedisBroker):
        client = await broker.connect()
        async with client.pipeline(transaction=False) as pipe:
            for body in bodies:
                pipe.xadd(channel, {RAW_FIELD: body}, maxlen=maxlen, approximate=True)
            await pipe.execute()
        return
    headers = [{"Nats-Msg-Id": id_} for id_ in ids] if ids else [{} for _ in bodies]

    async def send() -> None:
        js = broker.connection.jetstream()
        acks = [
            await js.publish_async(channel, body, headers=header, stream=nats_stream_name(channel))
            for body, header in zip(bodies, headers, strict=True)
        ]
        failures = [
            result
            for result in await asyncio.gather(*acks, return_exceptions=True)
            if isinstance(result, BaseException)
        ]
        if failures:
            raise failures[0]

    await publish_nats(broker, channel, send)


async def publish_faststream(broker: Broker, channel: str, bodies: Sequence[bytes]) -> None:
    """Publish bodies in order as a FastStream publisher does (Redis: in one round trip)."""
    if isinstance(broker, RedisBroker):
        client = await broker.connect()
        async with client.pipeline(transaction=False) as pipe:
            for body in bodies:
                await broker.publish(body, stream=channel, pipeline=pipe)
            await pipe.execute()
        return

    async def send() -> None:
        for body in bodies:
            await broker.publish(body, channel, stream=nats_stream_name(channel))

    await publish_nats(broker, channel, send)


async def publish_nats(
    broker: NatsBroker, channel: str, send: Callable[[], Awaitable[None]]
) -> None:
    """Run `send`; if the channel's stream does not exist yet, create it and send again."""
    try:
        await send()
    except NoStreamResponseError:
        await declare_nats_stream(broker, channel)
        await send()


async def pending_count(broker: Broker, channel: str, group: str) -> int:
    """Messages delivered to the group but not acknowledged yet."""
    if isinstance(broker, RedisBroker):
        client = await broker.connect()
        return int((await client.xpending(channel, group))["pending"])
    info = await broker.connection.jetstream().consumer_info(nats_stream_name(channel), group)
    return int(info.num_ack_pending or 0)


async def create_redis_groups(broker: RedisBroker) -> list[Group]:
    """Create the missing consumer groups at the start of their streams; return them."""
    client = await broker.connect()
    created = []
    for binding in BINDINGS.get(broker, []):
        group = binding.group
        try:
            await client.xgroup_create(group.channel, group.name, id="0", mkstream=True)
            created.append(group)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
    return created


async def repair(broker: Broker) -> list[Group]:
    """Recreate lost groups and (re)start their subscribers; return the groups that were lost."""
    if isinstance(broker, RedisBroker):
        lost = await create_redis_groups(broker)  # FastStream stopped their subscribers
    else:
        lost = await lost_nats_consumers(broker)
        for binding in BINDINGS.get(broker, []):
            if binding.group in lost:
                await stop_all(binding.subscribers)  # they pull from a consumer that is gone
    for binding in BINDINGS.get(broker, []):
        await start_stopped(binding.subscribers)
    return lost


async def lost_nats_consumers(broker: NatsBroker) -> list[Group]:
    """The groups whose durable consumer (or its whole stream) no longer exists."""
    js = broker.connection.jetstream()
    lost = []
    for binding in BINDINGS.get(broker, []):
        try:
            await js.consumer_info(nats_stream_name(binding.group.channel), binding.group.name)
        except NotFoundError:
            lost.append(binding.group)
    return lost


async def start_stopped(subscribers: Sequence[Subscriber]) -> None:
    """Start the subscribers that are not running."""
    for subscriber in subscribers:
        if not subscriber.running:
            await subscriber.start()


async def stop_all(subscribers: Sequence[Subscriber]) -> None:
    """Stop every subscriber (stopping a stopped one does nothing)."""
    for subscriber in subscribers:
        await subscriber.stop()


async def watch(broker: Broker, interval_s: float, stopping: asyncio.Event) -> None:
    """Every `interval_s`, repair lost consumer groups, until `stopping` is set."""
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await stopping.wait()
                return
        try:
            for group in await repair(broker):
                log.warning(
                    "consumer group was lost; recreated", channel=group.channel, group=group.name
                )
        except Exception as error:  # the broker is unreachable: the subscribers retry by themselves
            log.warning("cannot check the consumer groups", error=str(error))


@contextlib.asynccontextmanager
async def running(
    broker: Broker, *, watch_interval_s: float = WATCH_INTERVAL_S
) -> AsyncIterator[None]:
    """Run the broker's subscribers, their groups in place and watched, until the block ends."""
    subscribers = [sub for binding in BINDINGS.get(broker, []) for sub in binding.subscribers]
    try:
        await broker.connect()
        if isinstance(broker, RedisBroker):
            await create_redis_groups(broker)  # at 0: FastStream would create them at "$"
        await broker.start()
        await start_stopped(subscribers)  # those FastStream does not run (NATS pullers)
        stopping = asyncio.Event()  # as well as a cancellation, which a library may swallow
        watchdog = asyncio.create_task(watch(broker, watch_interval_s, stopping))
        try:
            yield
        finally:
            stopping.set()
            watchdog.cancel()
            await asyncio.wait([watchdog])
    finally:
        await stop_all(subscribers)
        await broker.stop()
