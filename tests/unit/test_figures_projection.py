"""The figures fold: event -> row changes, with no IO."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from events.store import RecordedEvent
from projections.figures import Amounts, FiguresLoader, fold_figures, group_flags
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


def amounts(value: int, numerator: int | None = None, denominator: int | None = None) -> Amounts:
    return Amounts(
        Decimal(value),
        None if numerator is None else Decimal(numerator),
        None if denominator is None else Decimal(denominator),
    )


@pytest.mark.parametrize(
    ("total", "women", "men", "flags"),
    [
        (100, 40, 60, {"total": [], "women": [], "men": []}),  # 40 + 60 = 100: consistent
        (99, 40, 60, {"total": ["breakdown_sum_exceeds_total"], "women": [], "men": []}),
        (101, 40, 60, {"total": [], "women": [], "men": []}),  # other breakdowns may exist
        (30, 40, None, {"total": ["breakdown_sum_exceeds_total"], "women": []}),  # 40 > 30
        (None, 40, 60, {"women": [], "men": []}),  # no total: nothing to compare
    ],
)
def test_a_total_below_the_sum_of_its_parts_is_flagged(
    total: int | None, women: int | None, men: int | None, flags: dict[str, list[str]]
) -> None:
    values = {"total": total, "women": women, "men": men}
    rows = {b: amounts(v) for b, v in values.items() if v is not None}

    assert group_flags("integrations", rows) == flags


def test_unknown_slugs_compare_values_and_rates_compare_their_parts() -> None:
    # k3e2 (a share): 40/100 and 45/90 as percentages do not add up, their parts do:
    # numerators 20 + 25 = 45 > 40 (total), denominators 50 + 40 = 90 <= 100.
    rates = {"total": amounts(40, 40, 100), "women": amounts(40, 20, 50),
             "men": amounts(62, 25, 40)}  # fmt: skip
    consistent = rates | {"men": amounts(50, 20, 40)}  # 20 + 20 = 40, 50 + 40 = 90

    assert group_flags("k3e2", rates)["total"] == ["breakdown_sum_exceeds_total"]
    assert group_flags("k3e2", consistent)["total"] == []
    assert group_flags("k2", {"total": amounts(5), "women": amounts(4), "men": amounts(3)}) == {
        "total": ["fraction_missing"],
        "women": ["fraction_missing"],
        "men": ["fraction_missing"],
    }  # values of a quota do not add up; no parts to compare, but the parts are missing
    assert group_flags("my_series", {"total": amounts(5), "men": amounts(6)})["total"] == [
        "breakdown_sum_exceeds_total"
    ]


@pytest.mark.parametrize(
    ("indicator", "numerator", "denominator", "flags"),
    [
        ("continuous_employment", 28, 50, []),
        ("continuous_employment", None, 50, ["fraction_missing"]),
        ("k1e3", 5, None, ["fraction_missing"]),
        ("k3e2", None, None, ["fraction_missing"]),
        ("k2", None, 1000, ["fraction_missing"]),  # a quota needs both as well
        ("integrations", None, None, []),  # a count has no fraction
        ("k1", None, None, []),  # a change against the year before: no fraction asked
        ("my_series", None, None, []),  # unknown slugs: no rule
    ],
)
def test_a_fraction_missing_on_a_share_or_quota_is_flagged(
    indicator: str, numerator: int | None, denominator: int | None, flags: list[str]
) -> None:
    rows = {"women": amounts(56, numerator, denominator)}

    assert group_flags(indicator, rows) == {"women": flags}


def test_both_flags_on_one_total() -> None:
    rows = {"total": amounts(50, None, 100), "women": amounts(50, 30, 60),
            "men": amounts(50, 20, 50)}  # fmt: skip

    assert group_flags("continuous_employment", rows)["total"] == [
        "breakdown_sum_exceeds_total", "fraction_missing"
    ]  # fmt: skip


def test_the_loader_flags_every_row_from_the_same_rule() -> None:
    loader = FiguresLoader()
    loader.add([
        recorded(1, value=99),
        recorded(2, breakdown="women", value=40),
        recorded(3, breakdown="men", value=60),
        recorded(4, value=100, period="2022-08"),
    ])  # fmt: skip

    rows = {(r[2], r[3]): r[-1] for r in loader.finish()["figures"]}

    assert rows == {("total", "2022-07"): ["breakdown_sum_exceeds_total"],
                    ("women", "2022-07"): [], ("men", "2022-07"): [],
                    ("total", "2022-08"): []}  # fmt: skip
