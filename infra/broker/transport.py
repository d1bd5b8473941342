"""What every broker's transport offers the services: subscribe in batches, publish, count
what is pending, and recover consumer groups lost with the broker's data.

Invariants every transport keeps:
* a batch is acknowledged only after its handler returned; when the handler raises, nothing is
  acknowledged and the batch is delivered again after `redeliver_after_s`, with a higher
  `delivery_count` (also the messages of a consumer that died);
* while a handler holds a batch, the transport keeps claiming it (without counting a delivery),
  so a handler that waits out an outage is not overtaken by a redelivery of its own batch;
* bodies reach the handler as raw bytes, whatever they are: no FastStream decoding runs on them;
* a consumer group starts at the beginning of its stream, so messages published before the first
  consumer started are delivered too.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

BROKER_LOGGER = "zs.broker"
"""The logger FastStream's broker logs to (it propagates to the root handler)."""
REDELIVER_AFTER_S = 30.0
"""A message unacknowledged this long (its consumer failed or died) is delivered again."""
KEEP_ALIVE_SHARE = 0.3
"""A batch in hand is claimed again after this share of `redeliver_after_s`."""

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


BatchHandler = Callable[[list[RawMessage]], Awaitable[None]]


@dataclass(frozen=True)
class ChannelDoc:
    """A channel as the AsyncAPI document describes it."""

    name: str
    description: str
    model: type[Any]
    """The message's model (a pydantic model)."""
    group: str | None = None
    """The consumer group the services read it with; None: the services publish to it."""


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
    """What the supervisor needs of a subscriber: whether it runs, start and stop."""

    @property
    def running(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Binding:
    """A group and the subscribers that read it."""

    group: Group
    subscribers: tuple[Subscriber, ...]


class Transport(Protocol):
    """One broker's way of doing what the services need (see the module's invariants).

    Nothing outside `infra.broker` sees the broker client underneath: a new broker is a new
    module with a class that satisfies this protocol, and a line in `create_transport`.
    """

    @property
    def bindings(self) -> list[Binding]:
        """Every subscription made so far."""

    async def connect(self) -> None:
        """Connect to the broker (enough to publish and to count what is pending)."""

    async def start(self) -> None:
        """Start the subscribers the broker's client runs itself (after `connect`)."""

    async def close(self) -> None:
        """Stop what `start` started and disconnect."""

    def subscribe(self, group: Group, handle: BatchHandler) -> None:
        """Deliver the group's messages to `handle` in batches once running; what every group
        reading the channel has acknowledged is dropped from the broker."""

    async def recover(self) -> list[Group]:
        """Recreate the groups that do not exist (at the start of their streams), stopping
        subscribers that read a lost one; return the groups that were missing."""

    async def publish(self, channel: str, bodies: Sequence[bytes]) -> None:
        """Publish plain bodies in order; each is stored by the broker when this returns."""

    async def trim(self, channel: str) -> None:
        """Drop what every consumer group reading `channel` has settled, never a message one
        of them has not; a channel no group reads keeps about the transport's `max_entries`
        (`ZS_BROKER_MAX_ENTRIES`)."""

    async def pending(self, channel: str, group: str) -> int:
        """Messages delivered to the group but not acknowledged yet."""


def declared_handler(channel: ChannelDoc) -> Callable[[Any], Awaitable[None]]:
    """A handler that only declares what `channel` carries (its model, for AsyncAPI)."""

    async def receive(message: Any) -> None:
        """Declared only: the services settle each message."""

    receive.__annotations__["message"] = channel.model
    return receive


@contextlib.asynccontextmanager
async def kept_alive(beat: Callable[[], Awaitable[None]], every_s: float) -> AsyncIterator[None]:
    """Call `beat` every `every_s` while the block runs: a handler that holds its batch for long
    (waiting out a database outage) keeps it from being redelivered elsewhere meanwhile."""

    done = asyncio.Event()  # as well as the cancellation, which a client may turn into an error

    async def beating() -> None:
        while not done.is_set():
            await asyncio.sleep(every_s)
            try:
                await beat()
            except Exception as error:  # the broker is away too: redelivery is the fallback
                if not done.is_set():
                    log.warning("cannot keep the batch claimed", error=str(error))

    task = asyncio.create_task(beating())
    try:
        yield
    finally:
        done.set()
        task.cancel()
        await asyncio.wait([task])
