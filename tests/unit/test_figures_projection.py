"""The figures fold: event -> row changes, with no IO."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from events.log import RecordedEvent
from projections.figures.calculation import Amounts, flags_by_key, fold_figures, group_flags
from projections.figures.rebuild import fold
from tests.factories import figure_event

RECORDED_AT = datetime(2022, 10, 27, 9, tzinfo=UTC)
REPORTED = datetime(2022, 10, 27, 8, tzinfo=UTC)
CORRECTED = datetime(2023, 2, 27, 8, tzinfo=UTC)


def recorded(
    position: int,
    type: str = "MonthlyFigureReported",
    occurred_at: datetime = REPORTED,
    **data: Any,
) -> RecordedEvent:
    """A recorded figure event at `position`, published at `occurred_at` (hashes are not
    checked here)."""
    event = figure_event(**data)
    return RecordedEvent(
        **event.model_dump(exclude={"type", "occurred_at"}),
        type=type,
        occurred_at=occurred_at,
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


def correction(position: int, value: int = 66) -> RecordedEvent:
    """The July correction, published in February after the reports of October."""
    return recorded(position, "MonthlyFigureCorrected", CORRECTED, value=value,
                    status="final", reason="late registrations")  # fmt: skip


def test_a_report_recorded_after_its_correction_does_not_override_it() -> None:
    [row] = fold_figures([correction(1), recorded(2, value=64)])

    assert (row.value, row.status, row.last_reason) == (Decimal(66), "final", "late registrations")
    assert (row.position, row.occurred_at, row.recorded_at) == (
        1, CORRECTED, RECORDED_AT + timedelta(minutes=1)
    )  # fmt: skip
    assert row.revision_count == 1


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]])
def test_the_row_does_not_depend_on_the_order_the_publications_were_recorded(
    order: list[int],
) -> None:
    published = [
        ("MonthlyFigureReported", REPORTED, 64),
        ("MonthlyFigureReported", REPORTED + timedelta(days=30), 65),
        ("MonthlyFigureCorrected", CORRECTED, 66),
    ]
    events = [
        recorded(position, type, occurred_at, value=value, reason="late registrations")
        if type == "MonthlyFigureCorrected"
        else recorded(position, type, occurred_at, value=value)
        for position, (type, occurred_at, value) in enumerate(
            (published[i] for i in order), start=1
        )
    ]

    [row] = fold_figures(events)

    assert (row.value, row.occurred_at, row.revision_count) == (Decimal(66), CORRECTED, 2)
    assert row.position == order.index(2) + 1


def test_a_batch_folded_into_earlier_rows_keeps_the_one_in_force() -> None:
    rows: dict[Any, Any] = {}
    fold_figures([correction(1)], rows)

    [row] = fold_figures([recorded(2, value=64), recorded(3, value=63)], rows)

    assert (row.value, row.position, row.revision_count) == (Decimal(66), 1, 2)


def test_equal_publication_times_are_decided_by_the_higher_position() -> None:
    [row] = fold_figures([correction(1, value=66), correction(2, value=67)])
    [late] = fold_figures([recorded(5, value=70), recorded(3, value=71)])

    assert (row.value, row.position, row.revision_count) == (Decimal(67), 2, 1)
    assert (late.value, late.position) == (Decimal(70), 5)


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
    folded = fold([
        recorded(1, value=99),
        recorded(2, breakdown="women", value=40),
        recorded(3, breakdown="men", value=60),
        recorded(4, value=100, period="2022-08"),
    ])  # fmt: skip

    rows = {(r[2], r[3]): r[-1] for r in folded["figures"]}

    waiting = ["waiting_period"]  # published on 27 October 2022, inside the waiting period
    assert rows == {("total", "2022-07"): ["breakdown_sum_exceeds_total", *waiting],
                    ("women", "2022-07"): waiting, ("men", "2022-07"): waiting,
                    ("total", "2022-08"): waiting}  # fmt: skip


def test_the_flags_look_at_the_rows_in_force() -> None:
    # the women's correction (30) is in force though its report (70 > 60) was recorded later
    folded = fold([
        recorded(1, value=60),
        recorded(2, "MonthlyFigureCorrected", CORRECTED, breakdown="women", value=30,
                 reason="late registrations"),
        recorded(3, breakdown="women", value=70),
    ])  # fmt: skip

    rows = {r[2]: (r[4], r[-1]) for r in folded["figures"]}

    waiting = ["waiting_period"]  # July published in October; corrected in February 2023
    assert rows == {"total": (Decimal(60), waiting), "women": (Decimal(30), [])}


@pytest.mark.parametrize(
    ("period", "published", "waiting"),
    [
        ("2022-07", "2022-10-27T08:00:00+00:00", True),  # July's waiting period ends with October
        ("2022-07", "2022-10-31T23:59:59+00:00", True),
        ("2022-07", "2022-11-01T00:00:00+00:00", False),
        ("2022-10", "2023-01-31T12:00:00+00:00", True),  # across the turn of the year
        ("2022-10", "2023-02-01T00:00:00+00:00", False),
        ("2022-12", "2023-03-31T00:00:00+00:00", True),
        ("2022-12", "2023-04-02T00:00:00+00:00", False),
    ],
)
def test_a_figure_published_inside_its_waiting_period_is_flagged(
    period: str, published: str, waiting: bool
) -> None:
    key = ("06437", "integrations", "total", period)
    amounts = Amounts(Decimal(60), occurred_at=datetime.fromisoformat(published))

    assert flags_by_key([(key, amounts)])[key] == (["waiting_period"] if waiting else [])
