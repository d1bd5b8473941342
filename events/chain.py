"""The hash chain: canonical bytes of a recorded event and the hash that links it to the last.

hash = sha256(prev_hash || canonical bytes), where prev_hash of position 1 is 64 zeros.
The canonical bytes are compact JSON of every recorded field except the hashes (see
`chain_hash`); JSON objects have sorted keys. `principal` and `channel` (who wrote the event,
through which channel) are part of them for every event that has them: events recorded before
they existed have neither and keep the bytes they were hashed with. Numbers are normalised so
that the bytes survive a round trip through JSONB: an integral float is written as an int
(JSONB prints 1e16 as 10000000000000000).
"""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

GENESIS_HASH = "0" * 64


CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
encode_string = json.encoder.encode_basestring  # a JSON string, as ensure_ascii=False writes it


def canonical_json(value: Any) -> str:
    """Deterministic compact JSON of `value`, as stored in JSONB and hashed."""
    return CANONICAL_ENCODER.encode(normalise_numbers(value))


def normalise_numbers(value: Any) -> Any:
    """`value` with every integral float turned into an int, recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if not any(isinstance(item, NESTED) for item in value.values()):
            return value  # nothing to change: no copy
        return {
            key: normalise_numbers(item) if isinstance(item, NESTED) else item
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalise_numbers(item) if isinstance(item, NESTED) else item for item in value]
    return value


NESTED = (float, dict, list)  # the values `normalise_numbers` may change


def timestamp_text(moment: datetime) -> str:
    """A timestamp as UTC ISO 8601 with microseconds (`...T08:00:00.000000+00:00`)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(
    prev_hash: str,
    *,
    position: int,
    event_id: UUID,
    stream_id: str,
    stream_version: int,
    type: str,
    schema_version: int,
    source: str,
    message_id: str,
    occurred_at: datetime,
    recorded_at: datetime,
    correlation_id: str | None,
    data_json: str,
    principal: str | None = None,
    channel: str | None = None,
) -> str:
    """Hex sha256 of the previous hash followed by the event's canonical bytes.

    The canonical bytes are a JSON array of the recorded fields in this fixed order, with
    `data_json` (the event data as `canonical_json` gives it) as the last element; `principal`
    and `channel` come just before it unless both are None (an event recorded before they
    existed).
    """
    header = json.dumps(  # ints and strings only: no number normalisation needed
        [
            position, str(event_id), stream_id, stream_version, type, schema_version, source,
            message_id, timestamp_text(occurred_at), timestamp_text(recorded_at), correlation_id,
            *identity(principal, channel),
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )  # fmt: skip
    canonical = f"{header[:-1]},{data_json}]"
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical.encode()).hexdigest()


def canonical_frame(
    *,
    event_id: UUID,
    stream_id: str,
    type: str,
    schema_version: int,
    source: str,
    message_id: str,
    occurred_at: datetime,
    correlation_id: str | None,
    principal: str | None = None,
    channel: str | None = None,
) -> tuple[str, str, str]:
    """The canonical bytes of `chain_hash` around the three fields assigned under the lock.

    For the parts (a, b, c), the canonical text is `[` position a stream_version b
    recorded_at_text c data_json `]`: the store fills the holes once the head is known.
    Each string is encoded as `chain_hash`'s `json.dumps` encodes it, so the bytes are equal.
    """
    after_correlation = "".join(
        f"{'null' if field is None else encode_string(field)},"
        for field in (correlation_id, *identity(principal, channel))
    )
    return (
        f',"{event_id}",{encode_string(stream_id)},',
        f",{encode_string(type)},{int(schema_version)},{encode_string(source)},"
        f'{encode_string(message_id)},"{timestamp_text(occurred_at)}","',
        f'",{after_correlation}',
    )


def identity(principal: str | None, channel: str | None) -> tuple[str | None, ...]:
    """The hashed fields naming who wrote an event and how: none for an event recorded before
    they existed (both None), else both."""
    return () if principal is None and channel is None else (principal, channel)
