"""From an accepted envelope to the event the store appends."""

from events.catalogue import DomainEvent
from events.envelope import Envelope
from events.log import NewEvent


def new_event(envelope: Envelope, event: DomainEvent, principal: str, channel: str) -> NewEvent:
    """The store's event for a validated envelope: its stream, its normalised data, and who
    sent it (`principal`) through which `channel`."""
    return NewEvent(
        stream_id=event.stream_id,
        type=envelope.type,
        schema_version=envelope.schema_version,
        source=envelope.source,
        message_id=envelope.message_id,
        occurred_at=envelope.occurred_at,
        correlation_id=envelope.correlation_id,
        principal=principal,
        channel=channel,
        data=event.model_dump(mode="json"),
    )
