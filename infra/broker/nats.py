"""NATS JetStream: durable pull consumers, pulled by `NatsPuller` over FastStream's connection.

Not FastStream's batch subscriber: in 0.7.8 its fetch loop catches only nats' TimeoutError, and
the plain one nats-py 2.16 raises at a deadline ends the loop and strands the partial batch it
held until `ack_wait` expires. A failed batch is NAKed with a delay, never TERMed (TERM would
drop it).
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import structlog
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import BadRequestError, NoStreamResponseError, NotFoundError

from infra.broker.transport import (
    KEEP_ALIVE_SHARE,
    BatchHandler,
    Binding,
    Group,
    RawMessage,
    kept_alive,
)

FETCH_WAIT_S = 0.5
"""How long one pull request waits for a first message (it returns as soon as any came)."""
RETRY_PAUSE_S = 1.0
"""Pause before pulling again after an error."""
STOP_GRACE_S = 15.0
"""How long stopping waits for the batch in hand to be settled (then it is delivered again)."""

log = structlog.get_logger()


class NatsTransport:
    """The transport over NATS JetStream (see `infra.broker.transport.Transport`)."""

    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker
        self.bindings: list[Binding] = []

    def subscribe(self, group: Group, handle: BatchHandler) -> None:
        """One puller per group; it starts with the supervisor."""
        self.bindings.append(Binding(group, (NatsPuller(self.broker, group, handle),)))

    async def recover(self) -> list[Group]:
        """The groups whose durable consumer (or its whole stream) no longer exists; their
        pullers are stopped, to be started again (which declares both anew)."""
        js = self.broker.connection.jetstream()
        lost = []
        for binding in self.bindings:
            try:
                await js.consumer_info(stream_name(binding.group.channel), binding.group.name)
            except NotFoundError:
                lost.append(binding.group)
                for subscriber in binding.subscribers:
                    await subscriber.stop()
        return lost

    async def publish(
        self,
        channel: str,
        bodies: Sequence[bytes],
        *,
        maxlen: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> None:
        """Publish with `ids` as `Nats-Msg-Id`, all acks awaited together (`maxlen` means
        nothing here: the stream's limits apply)."""
        headers = [{"Nats-Msg-Id": id_} for id_ in ids] if ids else [{} for _ in bodies]

        async def send() -> None:
            js = self.broker.connection.jetstream()
            acks = [
                await js.publish_async(channel, body, headers=header, stream=stream_name(channel))
                for body, header in zip(bodies, headers, strict=True)
            ]
            failures = [
                result
                for result in await asyncio.gather(*acks, return_exceptions=True)
                if isinstance(result, BaseException)
            ]
            if failures:
                raise failures[0]

        await self._with_stream(channel, send)

    async def publish_faststream(self, channel: str, bodies: Sequence[bytes]) -> None:
        """Publish through FastStream, one message after the other."""

        async def send() -> None:
            for body in bodies:
                await self.broker.publish(body, channel, stream=stream_name(channel))

        await self._with_stream(channel, send)

    async def pending(self, channel: str, group: str) -> int:
        """The consumer's count of unacknowledged messages."""
        info = await self.broker.connection.jetstream().consumer_info(stream_name(channel), group)
        return int(info.num_ack_pending or 0)

    async def _with_stream(self, channel: str, send: Callable[[], Awaitable[None]]) -> None:
        """Run `send`; if the channel's stream does not exist yet, create it and send again."""
        try:
            await send()
        except NoStreamResponseError:
            await declare_stream(self.broker, channel)
            await send()


class NatsPuller:
    """Pulls batches from a durable consumer: ack after `handle` returned, else a delayed NAK."""

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
        await declare_stream(self.broker, self.group.channel)
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


async def declare_stream(broker: NatsBroker, channel: str) -> None:
    """Create the stream for `channel` unless it exists."""
    config = StreamConfig(name=stream_name(channel), subjects=[channel])
    with contextlib.suppress(BadRequestError):  # exists, perhaps with FastStream's settings
        await broker.connection.jetstream().add_stream(config)
