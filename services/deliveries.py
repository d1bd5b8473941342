"""What a broker hands the services: raw deliveries in, recorded events out."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from events.store import RecordedEvent

INGEST_CHANNEL = "zs.ingest"
EVENTS_CHANNEL = "zs.events"
REJECTED_CHANNEL = "zs.rejected"
MAX_DELIVERIES = 5
"""A message still failing after this many deliveries is rejected as poison, not retried."""


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
