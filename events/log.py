"""What the log holds, with no IO: the event to append, the event as recorded, the names of the
streams, and a selection of events (what `EventStore.select` reads). The store (`events.store`)
reads and writes these; a calculation needs only this module.

Stream names are made here and nowhere else: `jobcenter-<id>`, `agreement-<id>`,
`figures-<jobcenter_id>` (a jobcenter's monthly figures), `framework-<id>`.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.chain import canonical_json

FIGURES_STREAM_PREFIX = "figures-"


def jobcenter_stream(jobcenter_id: str) -> str:
    """The stream of a jobcenter's registration."""
    return f"jobcenter-{jobcenter_id}"


def agreement_stream(agreement_id: str) -> str:
    """The stream of one target agreement."""
    return f"agreement-{agreement_id}"


def figures_stream(jobcenter_id: str) -> str:
    """The stream of a jobcenter's monthly figures."""
    return f"{FIGURES_STREAM_PREFIX}{jobcenter_id}"


def framework_stream(framework_id: str) -> str:
    """The stream of one Land framework agreement and the jobcenters that join it."""
    return f"framework-{framework_id}"


def is_figures_stream(stream_id: str) -> bool:
    """Whether `stream_id` is a jobcenter's figure stream."""
    return stream_id.startswith(FIGURES_STREAM_PREFIX)


class NewEvent(BaseModel):
    """An event to append: the upstream envelope plus the stream it belongs to, and who sent
    it through which channel."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    type: str
    schema_version: int = 1
    source: str
    message_id: str
    occurred_at: AwareDatetime
    correlation_id: str | None = None
    principal: str
    """Who sent it, as authenticated: `token:<sub>`, `broker:<user>`, `broker:trusted-network`."""
    channel: str
    """How it arrived: `http`, `zs.ingest.<source>`, `zs.ingest`."""
    data: dict[str, Any]
    event_id: UUID = Field(default_factory=uuid4)


class RecordedEvent(NewEvent):
    """An event as the store holds it (the contract, recorded events). `principal` and
    `channel` are None only for events recorded before the store kept them."""

    principal: str | None = None  # type: ignore[assignment]
    channel: str | None = None  # type: ignore[assignment]
    position: int
    stream_version: int
    recorded_at: datetime
    prev_hash: str
    hash: str


class Payload(NamedTuple):
    """What a repeat of a recorded (source, message_id) must carry to be a duplicate rather
    than an idempotency conflict: the same type, schema version, occurred_at and data (as
    canonical JSON, so that numbers compare as written)."""

    type: str
    schema_version: int
    occurred_at: datetime
    data: str

    @classmethod
    def of(cls, event: NewEvent) -> "Payload":
        """The payload of an event to append or recorded."""
        return cls(event.type, event.schema_version, event.occurred_at, canonical_json(event.data))


class CanonicalJson(str):
    """JSON text already in canonical form: stored as it is, not serialised again."""


@dataclass(frozen=True)
class Selection:
    """Which events to read: every condition given holds. Typed, so that no caller writes SQL;
    a data field is named by its key in the event's data."""

    stream: str | None = None
    types: Collection[str] | None = None
    until: int | None = None
    """Recorded at or before this position."""
    after: int | None = None
    """Recorded after this position."""
    published_by: datetime | None = None
    """Their envelope's `occurred_at` at or before this time."""
    fields: Mapping[str, Collection[str]] = field(default_factory=dict)
    """Data field -> the values it may have."""
    prefixes: Mapping[str, Collection[str]] = field(default_factory=dict)
    """Data field -> the values its beginning may have (all of one length; the data must have
    the field): `{"period": ["2024"]}` for the periods of 2024, found through the index of
    migration 0009."""

    def matches(self, event: RecordedEvent) -> bool:
        """Whether `event` is one of those selected: what `EventStore.select` reads in SQL, for
        a log held in memory (the fields and prefixes name string values of the data)."""
        data = event.data
        return (
            (self.stream is None or event.stream_id == self.stream)
            and (self.types is None or event.type in self.types)
            and (self.until is None or event.position <= self.until)
            and (self.after is None or event.position > self.after)
            and (self.published_by is None or event.occurred_at <= self.published_by)
            and all(data.get(name) in values for name, values in self.fields.items())
            and all(
                isinstance(data.get(name), str) and any(data[name].startswith(v) for v in values)
                for name, values in self.prefixes.items()
            )
        )
