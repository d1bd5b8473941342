"""The services' broker subscriptions and publishing: the same handlers on every broker.

Invariants: a batch is acknowledged only after its handler returned (when it raises, the batch
is delivered again); an ingest message delivered more than `MAX_DELIVERIES` times goes to the
poison handler instead of the ingest handler, and is acknowledged once that returned; bodies
reach the ingest handler exactly as published (validation is the handler's job).
"""

from collections.abc import Sequence
from typing import Any

import structlog
from pydantic import ValidationError
from pydantic_core import to_json

from events.store import RecordedEvent
from infra.broker import (
    REDELIVER_AFTER_S,
    Broker,
    Group,
    RawMessage,
    publish_bodies,
    publish_faststream,
    subscribe_batches,
)
from services.deliveries import (
    EVENTS_CHANNEL,
    INGEST_CHANNEL,
    MAX_DELIVERIES,
    REJECTED_CHANNEL,
    Delivery,
    IngestHandler,
    PoisonHandler,
    ProjectHandler,
)

INGEST_GROUP = "zs-ingest"
PROJECTOR_GROUP = "zs-projectors"
INGEST_BATCH_SIZE = 500
EVENTS_BATCH_SIZE = 500
EVENTS_MAXLEN = 100_000
"""`zs.events` keeps about this many entries (Redis); the store keeps everything."""
REJECTED_MAXLEN = 100_000
"""`zs.rejected` keeps about this many entries (Redis); the rejections table keeps everything."""

log = structlog.get_logger()


def subscribe_ingest(
    broker: Broker,
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

    subscribe_batches(
        broker, Group(channel, group, consumer, batch_size, redeliver_after_s), settle
    )


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
    broker: Broker,
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

    subscribe_batches(broker, Group(channel, group, consumer, batch_size, redeliver_after_s), apply)


def recorded_event(message: RawMessage) -> RecordedEvent | None:
    """The event a `zs.events` message carries; None (logged) when it is not one."""
    try:
        return RecordedEvent.model_validate_json(message.body)
    except ValidationError as error:  # not from the relay: the store holds every real event
        log.error("not a recorded event; skipped", message_id=message.message_id, error=str(error))
        return None


async def publish_events(
    broker: Broker, events: Sequence[RecordedEvent], *, channel: str = EVENTS_CHANNEL
) -> None:
    """Publish recorded events to `zs.events` as JSON, in the given order, in one round trip."""
    await publish_bodies(
        broker,
        channel,
        [event.model_dump_json().encode() for event in events],
        maxlen=EVENTS_MAXLEN,
        ids=[str(event.event_id) for event in events],
    )


async def publish_envelopes(
    broker: Broker, bodies: Sequence[bytes], *, channel: str = INGEST_CHANNEL
) -> None:
    """Publish raw envelopes to `zs.ingest` as a FastStream upstream would."""
    await publish_faststream(broker, channel, bodies)


async def publish_rejection(
    broker: Broker, payload: dict[str, Any], *, channel: str = REJECTED_CHANNEL
) -> None:
    """Publish one rejection (JSON) to `zs.rejected`."""
    await publish_bodies(broker, channel, [to_json(payload)], maxlen=REJECTED_MAXLEN)
