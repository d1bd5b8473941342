"""NATS JetStream: durable pull consumers, pulled by `NatsPuller` over FastStream's connection.

Not FastStream's batch subscriber: in 0.7.8 its fetch loop catches only nats' TimeoutError, and
the plain one nats-py 2.16 raises at a deadline ends the loop and strands the partial batch it
held until `ack_wait` expires. A failed batch is NAKed with a delay, never TERMed (TERM would
drop it).

On a cluster (several server URLs), streams are declared with `replicas` copies on file storage;
a publish waits for JetStream's ack (the message is stored on a majority of the replicas) and is
retried, with the same `Nats-Msg-Id`, while a stream leader is being elected, so the server drops
a copy it already stored. A retried message may land after messages published after it: the
ingest judges each message on its own, and the projectors fill gaps from the store.

Streams are bounded by their retention: a `zs.ingest` stream is a work queue (JetStream deletes
a message once the ingest acknowledged it; a message not acknowledged stays, there is no count
limit that could drop it), every other stream keeps its newest `max_entries` messages (discarding
the oldest: `zs.events` and `zs.rejected` are copies of what PostgreSQL keeps).

Its size: the NATS transport, its puller and the publish retries through leader elections are
one broker's details; the protocol they satisfy is `infra/broker/transport.py`.
"""

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from faststream.nats import JStream, NatsBroker
from nats.aio.msg import Msg
from nats.errors import ConnectionReconnectingError, NoRespondersError, OutboundBufferLimitError
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import (
    ConsumerConfig,
    DiscardPolicy,
    PubAck,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import (
    BadRequestError,
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)

from infra.broker.transport import (
    KEEP_ALIVE_SHARE,
    BatchHandler,
    Binding,
    ChannelDoc,
    Group,
    RawMessage,
    declared_handler,
    kept_alive,
)

FETCH_WAIT_S = 0.5
"""How long one pull request waits for a first message (it returns as soon as any came)."""
RETRY_PAUSE_S = 1.0
"""Pause before pulling again after an error."""
STOP_GRACE_S = 15.0
"""How long stopping waits for the batch in hand to be settled (then it is delivered again)."""
WORK_QUEUE_PREFIX = "zs.ingest"
"""Channels named so (`zs.ingest`, `zs.ingest.<source>`) are work queues: one group reads them."""
CLUSTER_REPLICAS = 3
"""Replicas of a stream on a cluster: a majority (2) survives the loss of any one server."""
ACK_TIMEOUT_S = 5.0
"""How long a publish waits for JetStream's ack before it counts as failed (and is retried)."""
PUBLISH_RETRY_FOR_S = 60.0
"""How long a publish keeps retrying transient failures (a leader election takes seconds)."""
BACKOFF_S = (0.1, 0.25, 0.5, 1.0)
"""Pauses between publish attempts; the last one repeats."""
TRANSIENT = (
    TimeoutError,  # no ack in time (nats' TimeoutError is one too)
    NoRespondersError,
    NoStreamResponseError,  # no stream leader right now, or the stream does not exist yet
    ServiceUnavailableError,  # 503: JetStream (or the stream's raft group) has no leader
    ConnectionReconnectingError,
    OutboundBufferLimitError,  # the client's buffer filled up while it reconnects
)
"""Publish failures that a failover causes and that go away by themselves."""

log = structlog.get_logger()


def default_replicas(servers: Sequence[str]) -> int:
    """Stream replicas for a connection to `servers`: R3 on a cluster, else 1."""
    return CLUSTER_REPLICAS if len(servers) > 1 else 1


def describing_broker(url: str, channels: Sequence[ChannelDoc]) -> NatsBroker:
    """A broker, never connected, declaring `channels` with their models for AsyncAPI."""
    broker = NatsBroker(url, description="NATS JetStream")
    for channel in channels:
        stream = JStream(stream_name(channel.name))
        if channel.group is None:
            broker.publisher(channel.name, stream=stream, title=channel.name,
                             schema=channel.model, description=channel.description)  # fmt: skip
        else:
            broker.subscriber(
                channel.name, stream=stream, durable=channel.group, title=channel.name,
                description=channel.description,
            )(declared_handler(channel))  # fmt: skip
    return broker


class NatsTransport:
    """The transport over NATS JetStream (see `infra.broker.transport.Transport`)."""

    def __init__(self, broker: NatsBroker, *, replicas: int, max_entries: int) -> None:
        self.broker = broker
        self.limits = StreamLimits(replicas, max_entries)
        self.bindings: list[Binding] = []
        self._jetstream: JetStreamContext | None = None

    async def connect(self) -> None:
        """Connect FastStream's client."""
        await self.broker.connect()

    async def start(self) -> None:
        """Start FastStream's broker (the pullers start with the supervisor)."""
        await self.broker.start()

    async def close(self) -> None:
        """Disconnect."""
        await self.broker.stop()

    @property
    def jetstream(self) -> JetStreamContext:
        """One JetStream context per connection (each context subscribes to its own inbox
        for `publish_async` acks, so a context per call would leak a subscription per call)."""
        connection = self.broker.connection
        if self._jetstream is None or self._jetstream._nc is not connection:
            self._jetstream = connection.jetstream()
        return self._jetstream

    def subscribe(self, group: Group, handle: BatchHandler) -> None:
        """One puller per group; it starts with the supervisor."""
        puller = NatsPuller(self.broker, group, handle, self.limits)
        self.bindings.append(Binding(group, (puller,)))

    async def recover(self) -> list[Group]:
        """The groups whose durable consumer (or its whole stream) no longer exists; their
        pullers are stopped, to be started again (which declares both anew)."""
        js = self.jetstream
        lost = []
        for binding in self.bindings:
            try:
                await js.consumer_info(stream_name(binding.group.channel), binding.group.name)
            except NotFoundError:
                lost.append(binding.group)
                for subscriber in binding.subscribers:
                    await subscriber.stop()
        return lost

    async def publish(self, channel: str, bodies: Sequence[bytes]) -> None:
        """Publish with a fresh `Nats-Msg-Id` each, pipelined, every ack awaited; what failed
        transiently is published again with its id (the server drops a copy it stored)."""
        unsent = list(zip(bodies, fresh_ids(len(bodies)), strict=True))

        async def send() -> None:
            nonlocal unsent
            js = self.jetstream
            acks = [
                await js.publish_async(channel, body, headers={"Nats-Msg-Id": id_},
                                       stream=stream_name(channel))
                for body, id_ in unsent
            ]  # fmt: skip
            results = await acks_within(acks, ACK_TIMEOUT_S)
            failed = [(m, r) for m, r in zip(unsent, results, strict=True) if r is not None]
            unsent = [message for message, _ in failed]
            if failed:  # a lasting error first: it ends the retries
                errors = [error for _, error in failed]
                raise next((e for e in errors if not isinstance(e, TRANSIENT)), errors[0])

        await self._retrying(channel, send)

    async def trim(self, channel: str) -> None:
        """Nothing to do: the stream's retention and limits bound it (see the module)."""

    async def pending(self, channel: str, group: str) -> int:
        """The consumer's count of unacknowledged messages."""
        info = await self.jetstream.consumer_info(stream_name(channel), group)
        return int(info.num_ack_pending or 0)

    async def _retrying(self, channel: str, send: Callable[[], Awaitable[None]]) -> None:
        """Run `send` until it succeeds; after a transient failure (no stream yet, no leader,
        no ack in time, reconnecting) pause and run it again, for `PUBLISH_RETRY_FOR_S`.
        Where no stream answered, declare the channel's stream first (it may not exist)."""
        deadline = time.monotonic() + PUBLISH_RETRY_FOR_S
        for attempt in itertools.count():
            try:
                await send()
                return
            except TRANSIENT as error:
                if time.monotonic() > deadline:
                    raise
                if isinstance(error, NoStreamResponseError | NoRespondersError):
                    with contextlib.suppress(NatsError, TimeoutError):
                        await declare_stream(self.broker, channel, self.limits)
                pause = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                log.info("publish failed; retrying", channel=channel, attempt=attempt + 1,
                         error=repr(error), pause_s=pause)  # fmt: skip
                await asyncio.sleep(pause)


def fresh_ids(count: int) -> list[str]:
    """`Nats-Msg-Id`s for messages that have none: a retried publish is then dropped by the
    stream's de-duplication (2 minutes by default) instead of stored twice."""
    return [uuid.uuid4().hex for _ in range(count)]


async def acks_within(
    acks: Sequence["asyncio.Future[PubAck]"], timeout_s: float
) -> list[BaseException | None]:
    """Wait for every ack up to `timeout_s`; per future, None when acked, else the error (a
    `TimeoutError` for an ack that did not come: the future is cancelled)."""
    if acks:
        await asyncio.wait(acks, timeout=timeout_s)
    results: list[BaseException | None] = []
    for ack in acks:
        if not ack.done():
            ack.cancel()
            results.append(TimeoutError("no JetStream ack in time"))
        else:
            results.append(None if ack.cancelled() else ack.exception())
    return results


class NatsPuller:
    """Pulls batches from a durable consumer: ack after `handle` returned, else a delayed NAK."""

    def __init__(
        self, broker: NatsBroker, group: Group, handle: BatchHandler, limits: "StreamLimits"
    ) -> None:
        self.broker, self.group, self.handle = broker, group, handle
        self.limits = limits
        self.task: asyncio.Task[None] | None = None
        self.settling = asyncio.Lock()
        self.stopping = False

    @property
    def running(self) -> bool:
        """Whether the pull loop is alive."""
        return self.task is not None and not self.task.done()

    async def start(self) -> None:
        """Create the stream and the durable consumer where missing, then pull."""
        await declare_stream(self.broker, self.group.channel, self.limits)
        subscription = await self.broker.connection.jetstream().pull_subscribe(
            self.group.channel,
            durable=self.group.name,
            stream=stream_name(self.group.channel),
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
        settled = False
        with contextlib.suppress(TimeoutError):  # a batch held through an outage is abandoned
            async with asyncio.timeout(STOP_GRACE_S):
                settled = await self.settling.acquire()
        self.task.cancel()  # while holding the lock: no new batch starts settling
        if settled:
            self.settling.release()
        await asyncio.wait([self.task])
        self.task = None

    async def pull(self, subscription: JetStreamContext.PullSubscription) -> None:
        """Fetch and settle batches until cancelled; the subscription ends with the loop."""
        try:
            while not self.stopping:
                try:
                    messages = await subscription.fetch(self.group.batch_size, timeout=FETCH_WAIT_S)
                except TimeoutError:  # nothing arrived (nats' TimeoutError or a plain one)
                    continue
                except NatsError as error:  # connection lost, consumer deleted: retry later
                    log.warning("cannot pull", channel=self.group.channel, error=str(error))
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                async with self.settling:
                    await self.settle(messages)
        finally:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()

    async def settle(self, messages: list[Msg]) -> None:
        """Hand the batch over; ack it when that returned, else NAK it with a delay."""

        async def in_progress() -> None:
            for msg in messages:
                await msg.in_progress()  # restarts ack_wait, counts no delivery

        try:
            async with kept_alive(in_progress, self.group.redeliver_after_s * KEEP_ALIVE_SHARE):
                await self.handle([raw_message(msg) for msg in messages])
        except Exception:
            log.exception("batch not settled; it is delivered again", channel=self.group.channel)
            for msg in messages:
                await msg.nak(delay=self.group.redeliver_after_s)  # back off like Redis' reclaim
            return
        for msg in messages:
            await msg.ack()


def raw_message(msg: Msg) -> RawMessage:
    """A JetStream message with its delivery count; its id is the stream sequence plus the time
    the stream stored it: the same on every redelivery, and unlike the bare sequence never the
    same for two messages when a stream restarts empty (sequences start at 1 again)."""
    metadata = msg.metadata
    stored_at = metadata.timestamp.isoformat() if metadata.timestamp else "?"
    return RawMessage(msg.data, f"{metadata.sequence.stream}@{stored_at}", metadata.num_delivered)


def stream_name(channel: str) -> str:
    """The JetStream stream holding `channel` (stream names cannot contain dots)."""
    return channel.replace(".", "_")


@dataclass(frozen=True)
class StreamLimits:
    """How the streams the services declare are kept."""

    replicas: int
    max_entries: int

    def config(self, channel: str) -> StreamConfig:
        """File storage with `replicas` copies; a work queue for `zs.ingest` channels (a
        message lives until the ingest acknowledged it), else the newest `max_entries`."""
        kept = (
            {"retention": RetentionPolicy.WORK_QUEUE}
            if channel.startswith(WORK_QUEUE_PREFIX)
            else {"retention": RetentionPolicy.LIMITS, "max_msgs": self.max_entries,
                  "discard": DiscardPolicy.OLD}
        )  # fmt: skip
        return StreamConfig(
            name=stream_name(channel),
            subjects=[channel],
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            **kept,
        )


async def declare_stream(broker: NatsBroker, channel: str, limits: StreamLimits) -> None:
    """Create the stream for `channel` as `limits` say, unless it exists (it keeps its own)."""
    with contextlib.suppress(BadRequestError):  # exists, perhaps with FastStream's settings
        await broker.connection.jetstream().add_stream(limits.config(channel))
