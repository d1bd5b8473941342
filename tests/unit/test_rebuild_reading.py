"""A rebuild's trusted reading of stored events gives exactly what validation gives."""

import json
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pytest

from events.catalogue import CATALOGUE, FIGURE_TYPES, parse_envelope
from events.chain import canonical_json
from events.log import RecordedEvent
from events.store import EVENT_COLUMNS, record_from_row, trusted_record
from events.trusted import trusted_figure
from tests.benchmarks.national import encode, is_hostile, national_workload

AT = datetime(2024, 1, 31, 8, tzinfo=UTC)


def stored(type: str, data: dict[str, Any], schema_version: int = 1) -> RecordedEvent:
    """A figure event as a rebuild reads it back: its data through canonical JSON text."""
    return RecordedEvent.model_construct(
        position=1, event_id=None, stream_id="figures-x", stream_version=1, type=type,
        schema_version=schema_version, source="s", message_id="m", occurred_at=AT,
        recorded_at=AT, correlation_id=None, principal="p", channel="c",
        data=json.loads(canonical_json(data)), prev_hash="0" * 64, hash="0" * 64,
    )  # fmt: skip


def exactly(event: object) -> str:
    """Every field with its exact representation (Decimal('1.50') is not Decimal('1.5'))."""
    return repr(sorted(vars(event).items()))


def national_figures(count: int) -> list[RecordedEvent]:
    """The first `count` figure events of the national workload, stored."""
    found = []
    for message in national_workload(jobcenters=3, years=2, seed=7):
        if is_hostile(message):
            continue
        envelope, event = parse_envelope(json.loads(encode(message)))
        if envelope.type in FIGURE_TYPES:
            found.append(stored(envelope.type, event.model_dump(mode="json")))
    return list(islice(found, count))


def test_national_figures_decode_as_the_catalogue_decodes_them() -> None:
    figures = national_figures(3000)
    assert {f.type for f in figures} == FIGURE_TYPES
    for recorded in figures:
        validated = CATALOGUE.decode(recorded.type, recorded.schema_version, recorded.data)
        trusted = trusted_figure(recorded)
        assert type(trusted) is type(validated)
        assert exactly(trusted) == exactly(validated)
        assert trusted == validated


@pytest.mark.parametrize(
    "value", [0, 7, 0.1, 66.5, 12345.678, 1e-6, 1e14, 123456789.123456, 2.5e-5, 1234567890123]
)
def test_numbers_keep_their_exact_representation(value: float) -> None:
    data = {"jobcenter_id": "06437", "indicator": "vermittlung_share", "period": "2023-05",
            "breakdown": "total", "value": value, "numerator": 3, "denominator": 4.25,
            "status": "final", "reason": "corrected"}  # fmt: skip
    recorded = stored("MonthlyFigureCorrected", data)
    validated = CATALOGUE.decode(recorded.type, recorded.schema_version, recorded.data)

    assert exactly(trusted_figure(recorded)) == exactly(validated)


def test_a_trusted_record_equals_the_validated_one() -> None:
    row = {column: getattr(stored("MonthlyFigureReported", {}), column) for column in EVENT_COLUMNS}

    trusted, checked = trusted_record(row), record_from_row(row)  # type: ignore[arg-type]

    assert trusted == checked
    assert trusted.position == 1 and trusted.data == {}
    assert trusted.model_copy(update={"position": 2}).position == 2  # as the checked one copies
