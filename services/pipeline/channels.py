"""The broker channels and what travels on them: raw deliveries in on `zs.ingest.<source>`
(one per source, which only that source's broker user may write) and on the shared `zs.ingest`,
recorded events out on `zs.events`, rejections out on `zs.rejected`. The same handlers run on
every broker.

Invariants: a batch is acknowledged only after its handler returned (when it raises, the batch
is delivered again); an ingest message delivered more than `MAX_DELIVERIES` times goes to the
poison handler instead of the ingest handler, and is acknowledged once that returned; bodies
reach the ingest handler exactly as published (validation is the handler's job).
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from pydantic_core import to_json

from events.log import RecordedEvent
from infra.broker import REDELIVER_AFTER_S, Group, RawMessage, Transport

INGEST_CHANNEL = "zs.ingest"
EVENTS_CHANNEL = "zs.events"
REJECTED_CHANNEL = "zs.rejected"
INGEST_GROUP = "zs-ingest"
PROJECTOR_GROUP = "zs-projectors"
INGEST_BATCH_SIZE = 500
EVENTS_BATCH_SIZE = 500
MAX_DELIVERIES = 5
"""A message still failing after this many deliveries is rejected as poison, not retried."""

log = structlog.get_logger()


def source_channel(source: str) -> str:
    """The ingest channel of one source: `zs.ingest.<source>`."""
    return f"{INGEST_CHANNEL}.{source}"


@dataclass(frozen=True)
class Delivery:
    """One message from `zs.ingest`, exactly as published."""

    body: bytes
    """The raw envelope bytes (JSON, UTF-8 — or whatever a broken upstream sent)."""
    delivery_id: str
    """The broker's id of this message (Redis entry id, JetStream stream sequence): the same
    on every redelivery, different for every published message."""
    attempt: int = 1
    """Delivery count where the broker knows it (1 = first delivery)."""


IngestHandler = Callable[[Sequence[Delivery]], Awaitable[None]]
"""Settles a batch durably (recorded, duplicate or rejected) before it returns; raises when it
could not, and then the broker must not acknowledge the batch (it is delivered again)."""

PoisonHandler = Callable[[Delivery, str], Awaitable[None]]
"""Rejects one delivery that failed `MAX_DELIVERIES` times, durably, with the given reason."""

ProjectHandler = Callable[[Sequence[RecordedEvent]], Awaitable[None]]
"""Applies recorded events from `zs.events` to the projections durably before it returns."""


def subscribe_ingest(
    transport: Transport,
    handler: IngestHandler,
    poison: PoisonHandler,
    consumer: str,
    *,
    channel: str = INGEST_CHANNEL,
    group: str = INGEST_GROUP,
    batch_size: int = INGEST_BATCH_SIZE,
    redeliver_after_s: float = REDELIVER_AFTER_S,
) -> None:
    """Hand `zs.ingest` to `handler` in batches of `Delivery`; poison what failed too often."""

    async def settle(messages: list[RawMessage]) -> None:
        deliveries = [Delivery(m.body, m.message_id, m.delivery_count) for m in messages]
        fresh = [delivery for delivery in deliveries if delivery.attempt <= MAX_DELIVERIES]
        if fresh:
            await handler(fresh)
        for delivery in deliveries:
            if delivery.attempt > MAX_DELIVERIES:
                await give_up(poison, delivery)

    transport.subscribe(Group(channel, group, consumer, batch_size, redeliver_after_s), settle)


async def give_up(poison: PoisonHandler, delivery: Delivery) -> None:
    """Hand a message that kept failing to the poison handler."""
    log.warning(
        "message failed too often; rejecting it",
        delivery_id=delivery.delivery_id,
        attempt=delivery.attempt,
    )
    reason = (
        f"delivered {delivery.attempt} times without being settled "
        f"(the limit is {MAX_DELIVERIES} attempts)"
    )
    await poison(delivery, reason)


def subscribe_events(
    transport: Transport,
    handler: ProjectHandler,
    consumer: str,
    *,
    channel: str = EVENTS_CHANNEL,
    group: str = PROJECTOR_GROUP,
    batch_size: int = EVENTS_BATCH_SIZE,
    redeliver_after_s: float = REDELIVER_AFTER_S,
) -> None:
    """Hand `zs.events` to `handler` in batches of `RecordedEvent`, in the order published."""

    async def apply(messages: list[RawMessage]) -> None:
        events = [event for event in map(recorded_event, messages) if event is not None]
        if events:
            await handler(events)

    transport.subscribe(Group(channel, group, consumer, batch_size, redeliver_after_s), apply)


def subscribe_wakeups(
    transport: Transport,
    wake: Callable[[], None],
    consumer: str,
    *,
    channel: str = EVENTS_CHANNEL,
    group: str = PROJECTOR_GROUP,
    batch_size: int = EVENTS_BATCH_SIZE,
    redeliver_after_s: float = REDELIVER_AFTER_S,
) -> None:
    """Call `wake` for each batch of `zs.events` and acknowledge it, the events not decoded:
    for a projector that reads the store itself (they would only tell it to look)."""

    async def woken(messages: list[RawMessage]) -> None:
        if messages:
            wake()

    transport.subscribe(Group(channel, group, consumer, batch_size, redeliver_after_s), woken)


def recorded_event(message: RawMessage) -> RecordedEvent | None:
    """The event a `zs.events` message carries; None (logged) when it is not one."""
    try:
        return RecordedEvent.model_validate_json(message.body)
    except ValidationError as error:  # not from the relay: the store holds every real event
        log.error("not a recorded event; skipped", message_id=message.message_id, error=str(error))
        return None


async def publish_events(
    transport: Transport, events: Sequence[RecordedEvent], *, channel: str = EVENTS_CHANNEL
) -> None:
    """Publish recorded events to `zs.events` as JSON, in the given order, in one round trip;
    drop what every reader settled (the store keeps everything)."""
    await transport.publish(channel, [event.model_dump_json().encode() for event in events])
    await transport.trim(channel)


async def publish_envelopes(
    transport: Transport, bodies: Sequence[bytes], *, channel: str = INGEST_CHANNEL
) -> None:
    """Publish raw envelopes to `zs.ingest` (or a source's channel) as they are."""
    await transport.publish(channel, bodies)


async def publish_rejections(
    transport: Transport, payloads: Sequence[dict[str, Any]], *, channel: str = REJECTED_CHANNEL
) -> None:
    """Publish rejections (JSON, one message each) to `zs.rejected` in one round trip, then
    drop what every reader settled (the rejections table keeps everything)."""
    await transport.publish(channel, [to_json(payload) for payload in payloads])
    await transport.trim(channel)
