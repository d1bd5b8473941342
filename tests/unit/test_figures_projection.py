"""The figures fold: event -> row changes, with no IO."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from events.store import RecordedEvent
from projections.figures import fold_figures
from tests.factories import figure_event

RECORDED_AT = datetime(2022, 10, 27, 9, tzinfo=UTC)


def recorded(position: int, type: str = "MonthlyFigureReported", **data: Any) -> RecordedEvent:
    """A recorded figure event at `position` (hashes are not checked here)."""
    event = figure_event(**data)
    return RecordedEvent(
        **event.model_dump(exclude={"type"}),
        type=type,
        position=position,
        stream_version=position,
        recorded_at=RECORDED_AT + timedelta(minutes=position),
        prev_hash="0" * 64,
        hash="0" * 64,
    )


def test_latest_publication_wins_and_every_later_publication_is_a_revision() -> None:
    rows = fold_figures(
        [
            recorded(1, value=64),
            recorded(2, "MonthlyFigureCorrected", value=66, reason="late registrations"),
            recorded(3, value=12.5, period="2022-08", status="final"),
        ]
    )

    july, august = rows
    assert (july.period, july.value, july.revision_count, july.position) == (
        "2022-07", Decimal(66), 1, 2
    )  # fmt: skip
    assert july.last_reason == "late registrations"
    assert july.recorded_at == RECORDED_AT + timedelta(minutes=2)
    assert (august.value, august.status, august.revision_count) == (Decimal("12.5"), "final", 0)
    assert august.last_reason is None


def test_a_report_after_a_correction_clears_the_reason() -> None:
    [row] = fold_figures(
        [
            recorded(1, "MonthlyFigureCorrected", value=66, reason="late registrations"),
            recorded(2, value=70),
        ]
    )

    assert (row.value, row.revision_count, row.last_reason) == (Decimal(70), 1, None)


def test_breakdowns_and_jobcenters_are_separate_figures() -> None:
    rows = fold_figures(
        [
            recorded(1, breakdown="women", numerator=30, denominator=100, value=30),
            recorded(2, breakdown="men", value=34),
            recorded(3, jobcenter_id="06438", breakdown="men", value=5),
        ]
    )

    assert [(r.jobcenter_id, r.breakdown, r.publications) for r in rows] == [
        ("06437", "women", 1), ("06437", "men", 1), ("06438", "men", 1)
    ]  # fmt: skip
    assert (rows[0].numerator, rows[0].denominator) == (Decimal(30), Decimal(100))


def test_other_event_types_are_ignored() -> None:
    other = recorded(1).model_copy(update={"type": "DialogHeld", "data": {"summary": "x"}})

    assert fold_figures([other]) == []
