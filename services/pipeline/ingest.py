"""The ingest: settles every delivered envelope as recorded, duplicate or rejected, durably.

One code path for the broker subscription and `POST /ingest`. A batch is decoded, checked
against the catalogue and against what is recorded (`KnownEntities`), its valid events are
appended in one transaction, and its rejections are stored (raw body, code, reason) and
published to `zs.rejected`. Only then does `ingest` return, so the caller may acknowledge.

Its size: decoding, judging and settling a batch are one transaction's steps; the outcome of
each message is decided here and nowhere else.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel

from events.catalogue import CATALOGUE, DomainEvent, parse_envelope
from events.chain import canonical_json
from events.envelope import (
    Envelope,
    InvalidEvent,
    RejectionCode,
    may_be_unstorable,
    parse_json,
    storable,
    unstorable,
)
from events.log import Payload, is_figures_stream
from events.recording import new_event
from events.rejections import RejectionLog, StoredRejection, body_text
from events.rules import REFERENCE_TYPES, KnownEntities, Sender
from events.store import Appended, EventStore, WrongExpectedVersion
from services.pipeline import metrics
from services.pipeline.channels import MAX_DELIVERIES, Delivery

MAX_ENVELOPE_BYTES = 64 * 1024
MAX_CONFLICT_RETRIES = 5
"""How often a batch is re-judged when another ingest changed an agreement meanwhile."""

log = structlog.get_logger()
RejectionPublisher = Callable[[list[dict[str, Any]]], Awaitable[None]]
Key = tuple[str, str]


class IngestOutcome(BaseModel):
    """The fate of one envelope."""

    status: Literal["recorded", "duplicate", "rejected"]
    source: str | None = None
    message_id: str | None = None
    position: int | None = None
    code: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Accepted:
    """A delivery that passed the catalogue."""

    delivery: Delivery
    envelope: Envelope
    event: DomainEvent


@dataclass(frozen=True)
class Rejection:
    """A delivery that will not be recorded, and why."""

    delivery: Delivery
    code: str
    reason: str
    source: str | None = None
    message_id: str | None = None

    def payload(self, received_at: datetime) -> dict[str, Any]:
        """The message published to `zs.rejected` (at most 64 KiB of the raw body, as text or
        base64, with the whole body's size and sha256)."""
        kept = self.stored(received_at).kept()
        body, encoding = body_text(kept.body)
        return {
            "delivery_id": kept.delivery_id, "source": kept.source,
            "message_id": kept.message_id, "code": kept.code, "reason": kept.reason,
            "received_at": received_at.isoformat(), "body": body, "body_encoding": encoding,
            "body_size": kept.body_size, "body_sha256": (kept.body_sha256 or b"").hex(),
        }  # fmt: skip

    def stored(self, received_at: datetime) -> StoredRejection:
        """As the rejection log keeps it."""
        return StoredRejection(
            self.delivery.delivery_id, storable(self.source), storable(self.message_id),
            str(self.code), storable(self.reason) or "", self.delivery.body, received_at,
        )  # fmt: skip

    def outcome(self) -> IngestOutcome:
        """As an `IngestOutcome`."""
        return IngestOutcome(
            status="rejected", source=self.source, message_id=self.message_id,
            code=self.code, reason=self.reason,
        )  # fmt: skip


def accepted_payload(item: Accepted) -> Payload:
    """The payload of an accepted envelope, as it would be recorded."""
    envelope, event = item.envelope, item.event
    data = canonical_json(event.model_dump(mode="json"))
    return Payload(envelope.type, envelope.schema_version, envelope.occurred_at, data)


@dataclass(frozen=True)
class Origin:
    """Where a batch came from: who sent it (`principal`, recorded with each event), through
    which `channel`, and what that sender may write."""

    principal: str
    """`token:<sub>` (HTTP), `broker:<user>` (a source's own broker channel, which only that
    broker user may write), `broker:trusted-network` (the shared `zs.ingest`, trusted)."""
    channel: str
    """`http`, `zs.ingest.<source>` or `zs.ingest`."""
    sender: Sender | None = None
    """What the principal may write; None: any source (the trusted shared channel)."""
    refusal: str | None = None
    """When set, every message is rejected `source_not_allowed` with this reason (the shared
    channel on a broker network that is not trusted)."""


TRUSTED_BROKER = Origin("broker:trusted-network", "zs.ingest")
"""The shared broker channel on a trusted network: whoever writes to it may write as any source."""


Judged = Accepted | Rejection | Key
"""An accepted delivery, a rejection, or the key of the recorded message it duplicates."""


def decode(delivery: Delivery) -> Accepted | Rejection:
    """Parse one raw delivery against the catalogue; never raises."""
    body = delivery.body
    if len(body) > MAX_ENVELOPE_BYTES:
        return Rejection(
            delivery, RejectionCode.TOO_LARGE, f"envelope of {len(body)} bytes exceeds 64 KiB"
        )
    try:
        raw = parse_json(body)
    except InvalidEvent as unreadable:
        return Rejection(delivery, unreadable.code, unreadable.reason)
    source, message_id = identity(raw)
    if not isinstance(raw, dict):
        return Rejection(delivery, RejectionCode.INVALID_ENVELOPE, "envelope must be an object")
    if may_be_unstorable(body) and (problem := unstorable(raw)):
        path, what = problem
        code = (
            RejectionCode.INVALID_DATA
            if path.startswith("data.")
            else (RejectionCode.INVALID_ENVELOPE)
        )
        return Rejection(delivery, code, f"{path}: {what}", source, message_id)
    try:
        envelope, event = parse_envelope(raw)
    except InvalidEvent as invalid:
        return Rejection(delivery, invalid.code, invalid.reason, source, message_id)
    return Accepted(delivery, envelope, event)


def refused(decoded: Accepted | Rejection, origin: Origin) -> Accepted | Rejection:
    """`decoded`, or a `source_not_allowed` rejection of it when the origin accepts nothing
    (whatever else is wrong with it)."""
    if origin.refusal is None:
        return decoded
    if isinstance(decoded, Rejection):
        source, message_id = decoded.source, decoded.message_id
    else:
        source, message_id = decoded.envelope.idempotency_key
    code = RejectionCode.SOURCE_NOT_ALLOWED
    return Rejection(decoded.delivery, code, origin.refusal, source, message_id)


def identity(raw: Any) -> tuple[str | None, str | None]:
    """(source, message_id) of a parsed body where it names them, for the rejection record."""
    if not isinstance(raw, dict):
        return None, None
    source, message_id = raw.get("source"), raw.get("message_id")
    return (
        storable(source) if isinstance(source, str) else None,
        storable(message_id) if isinstance(message_id, str) else None,
    )


def outcome(item: Judged, positions: dict[Key, int]) -> IngestOutcome:
    """The outcome of a judged delivery, given the positions of the recorded keys."""
    if isinstance(item, Rejection):
        return item.outcome()
    status: Literal["recorded", "duplicate"] = (
        "recorded" if isinstance(item, Accepted) else "duplicate"
    )
    key = item.envelope.idempotency_key if isinstance(item, Accepted) else item
    return IngestOutcome(status=status, source=key[0], message_id=key[1], position=positions[key])


def conflict(delivery: Delivery, key: Key) -> Rejection:
    """The `idempotency_conflict` of a delivery whose key is recorded with another payload."""
    reason = f"message {key[1]!r} of {key[0]!r} is known with another payload"
    return Rejection(delivery, RejectionCode.IDEMPOTENCY_CONFLICT, reason, *key)


class Ingestor:
    """Settles batches of deliveries against the store."""

    def __init__(
        self,
        store: EventStore,
        publish_rejections: RejectionPublisher,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.store = store
        self.rejections = RejectionLog(store.pool)
        self.publish_rejections = publish_rejections
        self.today = today
        self.known = KnownEntities()

    async def ingest(
        self, deliveries: Sequence[Delivery], origin: Origin = TRUSTED_BROKER
    ) -> list[IngestOutcome]:
        """One outcome per delivery, in order, once every fate is durable. Each recorded event
        carries the origin's principal and channel; where the origin names a sender, only what
        it may write is accepted, and an origin with a refusal accepts nothing (the rest:
        `source_not_allowed`)."""
        for _ in range(MAX_CONFLICT_RETRIES):
            await self.catch_up()
            try:
                with metrics.BATCH_SECONDS.time():
                    outcomes = await self._settle(
                        [refused(decode(delivery), origin) for delivery in deliveries], origin
                    )
                for settled in outcomes:
                    metrics.ENVELOPES.labels(settled.status).inc()
                return outcomes
            except WrongExpectedVersion as conflict:
                log.info("batch conflicts with a concurrent append; judging it again",
                         stream_id=conflict.stream_id)  # fmt: skip
        raise RuntimeError(f"batch still conflicting after {MAX_CONFLICT_RETRIES} attempts")

    async def reject_poison(self, delivery: Delivery, reason: str) -> None:
        """Reject a delivery that failed `MAX_DELIVERIES` times, keeping its raw body."""
        try:  # decode never raises; should it all the same, the poison is still rejected
            decoded: Accepted | Rejection | None = decode(delivery)
        except Exception:
            decoded = None
        source, message_id = (
            (decoded.envelope.source, decoded.envelope.message_id)
            if isinstance(decoded, Accepted)
            else (decoded.source, decoded.message_id)
            if isinstance(decoded, Rejection)
            else (None, None)
        )
        reason = f"failed {MAX_DELIVERIES} deliveries, last error: {reason}"
        await self.reject([Rejection(delivery, RejectionCode.POISON, reason, source, message_id)])
        metrics.ENVELOPES.labels("rejected").inc()

    async def catch_up(self) -> None:
        """Fold in the jobcenter and agreement events recorded since the last batch."""
        head = await self.store.last_position()
        pages = self.store.read_all(after=self.known.position, until=head, types=REFERENCE_TYPES)
        async for page in pages:
            for recorded in page:
                self.known.apply(
                    CATALOGUE.decode(
                        recorded.type, recorded.schema_version, recorded.data, stored=True
                    )
                )
        self.known.position = max(self.known.position, head)

    async def _settle(
        self, decoded: list[Accepted | Rejection], origin: Origin = TRUSTED_BROKER
    ) -> list[IngestOutcome]:
        accepted = [item for item in decoded if isinstance(item, Accepted)]
        recorded = await self.store.recorded_events([a.envelope.idempotency_key for a in accepted])
        judged = self._judge(
            decoded, {k: Payload.of(e) for k, e in recorded.items()}, origin.sender
        )
        to_append = [item for item in judged if isinstance(item, Accepted)]
        expected = {
            stream: self.known.stream_version(stream)
            for stream in {a.event.stream_id for a in to_append}
            if not is_figures_stream(stream)
        }
        with metrics.APPEND_SECONDS.time():
            appended = await self.store.append(
                [
                    new_event(a.envelope, a.event, origin.principal, origin.channel)
                    for a in to_append
                ],
                expected,
            )
        positions = {key: found.position for key, found in recorded.items()}
        raced = dict[int, Judged]()  # recorded by a concurrent ingest between look-up and append
        for item, result in zip(to_append, appended, strict=True):
            positions[item.envelope.idempotency_key] = result.position
            if result.duplicate:
                raced[id(item)] = self._against_original(item, result)
            log.debug("recorded", source=item.envelope.source,
                      message_id=item.envelope.message_id, event_id=str(result.event_id),
                      position=result.position, correlation_id=item.envelope.correlation_id,
                      duplicate=result.duplicate)  # fmt: skip
        judged = [raced.get(id(item), item) for item in judged]
        await self.reject([item for item in judged if isinstance(item, Rejection)])
        return [outcome(item, positions) for item in judged]

    @staticmethod
    def _against_original(item: Accepted, result: Appended) -> Judged:
        """A delivery another ingest recorded first, between this one's look-up and its
        append: its key when the payload is the one recorded, else an `idempotency_conflict`.
        The append decided under its lock which one is recorded and answered that one's
        payload, so this is exact however many ingests race."""
        key = item.envelope.idempotency_key
        return key if result.original == accepted_payload(item) else conflict(item.delivery, key)

    def _judge(
        self,
        decoded: list[Accepted | Rejection],
        recorded: Mapping[Key, Payload],
        sender: Sender | None,
    ) -> list[Judged]:
        """Check each accepted delivery against what is known, including earlier ones of the
        batch: a repeat of a recorded (or earlier accepted) message is its key, or an
        `idempotency_conflict` when its payload differs."""
        working, seen = self.known.copy(), dict(recorded)
        today, judged = self.today(), list[Judged]()
        for item in decoded:
            if isinstance(item, Rejection):
                judged.append(item)
                continue
            key = item.envelope.idempotency_key
            try:
                if sender is not None:
                    working.check_sender(sender, item.envelope.source, item.event)
                if key in seen:
                    judged.append(
                        key if seen[key] == accepted_payload(item) else conflict(item.delivery, key)
                    )
                    continue
                working.check(item.event, today)
            except InvalidEvent as invalid:
                judged.append(Rejection(item.delivery, invalid.code, invalid.reason, *key))
                continue
            working.apply(item.event)
            seen[key] = accepted_payload(item)
            judged.append(item)
        return judged

    async def reject(self, rejections: list[Rejection]) -> None:
        """Store the rejections (once per delivery), then publish them, all in one call."""
        if not rejections:
            return
        received_at = datetime.now(UTC)
        await self.rejections.add([r.stored(received_at) for r in rejections])
        for rejection in rejections:
            metrics.REJECTIONS.labels(str(rejection.code)).inc()
            log.warning("rejected", code=rejection.code, reason=rejection.reason,
                        source=rejection.source, message_id=rejection.message_id,
                        delivery_id=rejection.delivery.delivery_id)  # fmt: skip
        await self.publish_rejections([rejection.payload(received_at) for rejection in rejections])
