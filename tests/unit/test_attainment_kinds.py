"""The three kinds of aggregation (docs/domain.md, section 4): accumulating targets along their
plan path (agreed plan, last year's profile, linear), levels, changes judged on levels, and the
key figures' own constructions, each against hand-computed values (no IO)."""

from decimal import Decimal

import pytest

from events.catalogue import CATALOGUE
from events.envelope import InvalidEvent, RejectionCode
from projections.attainment.results import walk
from tests.unit.attainment_log import AGREEMENT, Log

PRIOR_2022 = [40, 50, 50, 60, 60, 60, 110, 110, 110, 110, 120, 120]
"""Integrations of 2022: 1,000 in all, 320 of them in January to June."""
ON_COURSE_2023 = [value * Decimal("1.1") for value in map(Decimal, PRIOR_2022)]
"""2023 repeating 2022's profile at 110 %: 352 in January to June, 1,100 in all."""


def year_2023() -> Log:
    """A concluded agreement for 2023 (so that 2022 is the year before)."""
    log = Log(2023)
    log.conclude()
    return log


def test_plan_share_from_last_years_profile_worked_example() -> None:
    log = year_2023()
    log.target("t", 1100)
    log.figures(PRIOR_2022, year=2022)
    log.figures(ON_COURSE_2023[:6])

    result = log.result()

    assert (result.plan_basis, result.actual) == ("prior_year_profile", Decimal(352))
    assert (result.expected_to_date, result.forecast) == (Decimal(352), Decimal(1100))
    assert (result.attainment_pct, result.status) == (Decimal("100.00"), "on_track")
    assert result.plan_path[5] == 352  # 1,100 x 320 / 1,000
    assert result.plan_path[0] == 44  # 1,100 x 40 / 1,000
    assert result.plan_path[11] == 1100


def test_linear_path_without_a_complete_year_before() -> None:
    log = year_2023()
    log.target("t", 1100)
    log.figures(PRIOR_2022[:11], year=2022)  # December 2022 missing: no profile
    log.figures(ON_COURSE_2023[:6])

    result = log.result()

    assert (result.plan_basis, result.expected_to_date) == ("linear", Decimal(550))
    assert (result.attainment_pct, result.forecast, result.status) == (
        Decimal("64.00"), Decimal(704), "at_risk",
    )  # fmt: skip
    assert result.plan_path == [Decimal(1100) * month / 12 for month in range(1, 13)]


def test_a_year_before_without_a_positive_total_gives_no_profile() -> None:
    log = year_2023()
    log.target("t", 12)
    log.figures([0] * 12, year=2022)
    log.figures([1])

    assert (log.result().plan_basis, log.result().expected_to_date) == ("linear", 1)


def test_agreed_plan_comes_first_and_the_latest_plan_counts() -> None:
    log = year_2023()
    log.target("t", 1200)
    log.figures(PRIOR_2022, year=2022)
    log.plan("t", [100] * 12)
    log.plan("t", [60, 130, 210, 300, 400, 500, 600, 700, 800, 900, 1050, 1200])
    log.figures([70, 60, 70])

    result = log.result()

    assert (result.plan_basis, result.actual, result.expected_to_date) == (
        "agreed_plan", Decimal(200), Decimal(210),
    )  # fmt: skip
    assert result.attainment_pct == Decimal("95.24")  # 200 / 210
    assert result.forecast == Decimal(200) * 1200 / 210
    assert result.status == "at_risk"
    assert result.plan_path[2] == 210


def test_agreed_plan_share_is_taken_at_the_latest_month_reported() -> None:
    log = year_2023()
    log.target("t", 100)
    log.plan("t", [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 200])
    log.figure(1, 5)
    log.figure(4, 15)  # February and March still missing

    result = log.result()

    assert result.expected_to_date == 20  # 100 x 40 / 200
    assert (result.forecast, result.status) == (100, "on_track")  # 20 x 200 / 40


def test_a_plan_that_expects_nothing_yet_judges_by_what_it_expects() -> None:
    log = year_2023()
    log.target("t", 100)
    log.plan("t", [0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    log.figure(1, 0)

    result = log.result()

    assert (result.expected_to_date, result.forecast, result.attainment_pct) == (0, None, None)
    assert result.status == "on_track"


def test_a_target_set_afresh_drops_its_plan() -> None:
    log = year_2023()
    log.target("t", 1200)
    log.plan("t", [1200] * 12)
    log.agreement("TargetWithdrawn", target_id="t", reason="neu")
    log.target("t", 1200)
    log.figure(1, 100)

    assert (log.result().plan_basis, log.result().expected_to_date) == ("linear", 100)


def test_quota_worked_example_accumulates_along_a_linear_path(log: Log) -> None:
    log.target("t", 24, "quota", "integration_quota")
    for month in range(1, 7):
        log.figure(month, 2, "integration_quota", numerator=100, denominator=5000)

    result = log.result()

    assert (result.actual, result.expected_to_date) == (Decimal(12), Decimal(12))
    assert (result.attainment_pct, result.forecast) == (Decimal("100.00"), Decimal(24))
    assert (result.status, result.plan_basis) == ("on_track", "linear")


def test_quota_profile_is_last_years_numerators() -> None:
    log = year_2023()
    log.target("t", 22, "quota", "integration_quota")  # 1,100 / 5,000
    for month, integrations in enumerate(PRIOR_2022, start=1):
        log.figure(month, 0, "integration_quota", year=2022, numerator=integrations,
                   denominator=5000 + month)  # the stocks do not make the profile  # fmt: skip
    for month in range(1, 7):
        integrations = ON_COURSE_2023[month - 1]
        log.figure(month, 0, "integration_quota", numerator=integrations, denominator=5000)

    result = log.result()

    assert result.plan_basis == "prior_year_profile"
    assert result.actual == Decimal("7.04")  # 352 / 5,000 x 100
    assert result.expected_to_date == Decimal("7.04")  # 22 x 320 / 1,000
    assert (result.attainment_pct, result.forecast) == (Decimal("100.00"), Decimal(22))


def test_mean_forecast_follows_last_years_season() -> None:
    log = year_2023()
    log.target("t", 1900, "mean", "ltb_stock", "at_most")
    log.figures([2100] * 6 + [1900] * 6, "ltb_stock", year=2022)  # mean 2,000
    log.figures([1995] * 6, "ltb_stock")

    result = log.result()

    assert (result.actual, result.expected_to_date) == (Decimal(1995), Decimal(1900))
    assert result.forecast == 1900  # 1,995 x 2,000 / 2,100
    assert (result.status, result.attainment_pct) == ("on_track", Decimal("95.24"))
    assert (result.plan_basis, result.plan_path) == (None, [Decimal(1900)] * 12)


def test_mean_forecast_without_a_complete_year_before_is_the_actual() -> None:
    log = year_2023()
    log.target("t", 1900, "mean", "ltb_stock", "at_most")
    log.figures([2100] * 11, "ltb_stock", year=2022)
    log.figures([1995] * 6, "ltb_stock")

    assert (log.result().forecast, log.result().status) == (1995, "at_risk")


@pytest.mark.parametrize(
    ("aggregation", "indicator", "pairs", "actual"),
    [
        ("ratio", "continuous_employment", [(58, 100), (62, 100)], Decimal(60)),
        ("mean_rate", "k1e3", [(58, 100), (31, 50)], Decimal(60)),
        ("last", "k3e2", [(50, 100), (30, 50)], Decimal(60)),
    ],
)
def test_levels_are_compared_with_the_whole_target(
    log: Log, aggregation: str, indicator: str, pairs: list[tuple[int, int]], actual: Decimal
) -> None:
    log.target("t", 55, aggregation, indicator)
    for month, (numerator, denominator) in enumerate(pairs, start=1):
        log.figure(month, 0, indicator, numerator=numerator, denominator=denominator)

    result = log.result()

    assert (result.actual, result.expected_to_date, result.forecast) == (actual, 55, actual)
    assert result.attainment_pct == (actual / 55 * 100).quantize(Decimal("0.01"))
    assert (result.status, result.plan_basis) == ("on_track", None)


def test_reduction_target_worked_example() -> None:
    log = year_2023()
    log.target("t", -5, "change_of_mean", "ltb_stock", "at_most")
    log.figures([2000, 2010, 1990], "ltb_stock", year=2022)
    log.figures([1890, 1900, 1880], "ltb_stock")

    result = log.result()

    assert (result.baseline, result.actual_level) == (Decimal(2000), Decimal(1890))
    assert (result.actual, result.target_level) == (Decimal("-5.5"), Decimal(1900))
    assert (result.attainment_pct, result.status) == (Decimal("100.53"), "on_track")
    assert (result.expected_to_date, result.forecast) == (Decimal(-5), Decimal("-5.5"))


def test_change_of_sum_on_levels_leaves_out_months_missing_a_year_earlier() -> None:
    log = year_2023()
    log.target("t", 5, "change_of_sum", "llu_eur")
    log.figures([100, 100], "llu_eur", year=2022)
    log.figures([110, 100, 999], "llu_eur")

    result = log.result()

    assert (result.baseline, result.actual_level, result.target_level) == (200, 210, 210)
    assert (result.actual, result.attainment_pct, result.months_reported) == (
        Decimal(5), Decimal("100.00"), 3,
    )  # fmt: skip


def test_k2_target_takes_the_latest_rolling_quota_not_a_sum() -> None:
    log = year_2023()
    log.target("t", 24, "quota", "k2")
    for month in range(1, 7):  # the BA's published K2: 12-month integrations over mean stock
        log.figure(month, 24, "k2", numerator=1200, denominator=5000)

    result = log.result()

    assert (result.actual, result.expected_to_date, result.forecast) == (24, 24, 24)
    assert (result.attainment_pct, result.status, result.plan_basis) == (
        Decimal("100.00"), "on_track", None,
    )  # fmt: skip


def test_k3_target_is_the_change_of_the_published_levels() -> None:
    log = year_2023()
    log.target("t", -5, "change_of_mean", "k3", "at_most")
    for month, (now, before) in enumerate([(1890, 2000), (1880, 1990), (1900, 2010)], start=1):
        log.figure(month, "-5.5", "k3", numerator=now, denominator=before)

    result = log.result()

    assert (result.baseline, result.actual_level) == (Decimal(2000), Decimal(1890))
    assert (result.actual, result.target_level) == (Decimal("-5.5"), Decimal(1900))
    assert (result.attainment_pct, result.status) == (Decimal("100.53"), "on_track")


def test_k1_target_sums_the_published_levels() -> None:
    log = year_2023()
    log.target("t", 10, "change_of_sum", "k1")
    log.figure(1, 10, "k1", numerator=110, denominator=100)
    log.figure(2, 20, "k1", numerator=120, denominator=100)

    result = log.result()

    assert (result.actual, result.baseline, result.actual_level) == (15, 200, 230)
    assert result.target_level == 220
    assert result.attainment_pct == Decimal("104.55")  # 230 / 220


@pytest.mark.parametrize(
    ("indicator", "aggregation"),
    [("k2", "sum"), ("k3", "change_of_sum"), ("k1", "mean"), ("k3e2", "mean"), ("k2e1", "last")],
)
def test_a_key_figure_target_with_another_aggregation_is_rejected(
    indicator: str, aggregation: str
) -> None:
    data = {"agreement_id": AGREEMENT, "target_id": "t", "indicator": indicator,
            "breakdown": "total", "comparator": "at_least", "value": 1, "unit": "percent",
            "aggregation": aggregation}  # fmt: skip
    with pytest.raises(InvalidEvent) as caught:
        CATALOGUE.decode("TargetSet", 1, data)
    assert caught.value.code == RejectionCode.KEY_FIGURE_AGGREGATION
    assert "data.aggregation" in caught.value.reason


def test_final_results_compare_the_actual_with_the_whole_target() -> None:
    log = year_2023()
    log.target("t", 1100)
    log.figures(PRIOR_2022, year=2022)
    log.figures(ON_COURSE_2023[:6])
    log.close()

    result = log.result()

    assert (result.final, result.expected_to_date, result.forecast) == (True, 1100, 352)
    assert (result.status, result.attainment_pct) == ("missed", Decimal("32.00"))


def test_a_correction_of_last_years_month_moves_the_plan_path_and_is_in_the_history() -> None:
    log = year_2023()
    log.target("t", 1100)
    log.figures(PRIOR_2022, year=2022)
    log.figures(ON_COURSE_2023[:6])
    before = log.result()
    log.figure(1, 140, year=2022, corrected=True)  # January 2022: 40 -> 140, 1,100 in all

    after = log.result()
    changes = walk(AGREEMENT, log.events, after=len(log.events) - 1)[1]

    assert before.expected_to_date == 352
    assert after.expected_to_date == 420  # 1,100 x 420 / 1,100
    assert after.plan_path[0] == 140
    assert after.status == "at_risk"  # forecast 352 / 420 x 1,100 < 1,100
    assert [(c.event_type, c.target_id) for c in changes] == [("MonthlyFigureCorrected", "t")]
    moved = changes[0].changed_fields()
    assert moved["expected_to_date"] == (352, 420)
    assert moved["plan_path"][0][0] == 44 and moved["plan_path"][1][0] == 140


def test_the_plan_path_alone_moving_is_in_the_history() -> None:
    log = year_2023()
    log.target("t", 1100)
    log.figures(PRIOR_2022, year=2022)
    log.figure(12, 20, year=2022, corrected=True)  # no month of 2023 yet

    changes = walk(AGREEMENT, log.events, after=len(log.events) - 1)[1]

    assert list(changes[0].changed_fields()) == ["plan_path"]


ON_COURSE_KINDS = [
    # (aggregation, indicator, comparator, target value, Y-1 figures, Y figures)
    ("sum", "integrations", "at_least", 1100, PRIOR_2022, ON_COURSE_2023),
    ("mean", "ltb_stock", "at_most", 1900,
     [2100] * 6 + [1900] * 6, [1995] * 6 + [1805] * 6),
    ("change_of_mean", "ltb_stock", "at_most", -5, [2000] * 12, [1900] * 12),
    ("change_of_sum", "llu_eur", "at_least", 10, [1000] * 12, [1100] * 12),
]  # fmt: skip
FRACTION_KINDS = [
    # (aggregation, indicator, comparator, target value, Y-1 (num, den), Y (num, den))
    ("quota", "integration_quota", "at_least", 22,
     [(n, 5000) for n in PRIOR_2022], [(n, 5000) for n in ON_COURSE_2023]),
    ("quota", "integration_quota", "at_least", 24, [], [(100, 5000)] * 12),
    ("ratio", "continuous_employment", "at_least", 58, [], [(58, 100)] * 12),
    ("mean_rate", "k1e3", "at_least", 5, [], [(5, 100)] * 12),
    ("last", "k3e2", "at_least", 40, [], [(40, 100)] * 12),
    ("quota", "k2", "at_least", 24, [], [(1200, 5000)] * 12),
    ("change_of_mean", "k3", "at_most", -5, [], [(1900, 2000)] * 12),
    ("change_of_sum", "k1", "at_least", 10, [], [(1100, 1000)] * 12),
]  # fmt: skip


@pytest.mark.parametrize(("aggregation", "indicator", "comparator", "value", "prior", "now"),
                         ON_COURSE_KINDS + FRACTION_KINDS)  # fmt: skip
def test_an_on_course_jobcenter_is_on_course_at_every_month(
    aggregation: str, indicator: str, comparator: str, value: Decimal, prior: list, now: list
) -> None:
    log = year_2023()
    log.target("t", value, aggregation, indicator, comparator)
    for month, figure in enumerate(prior, start=1):
        _publish(log, month, figure, indicator, 2022)
    statuses = []
    for month, figure in enumerate(now, start=1):
        _publish(log, month, figure, indicator, 2023)
        result = log.result()
        statuses.append(result.status)
        if result.plan_basis is not None or aggregation.startswith("change"):
            assert result.attainment_pct is not None and result.attainment_pct >= 100, month
    assert statuses == ["on_track"] * 11 + ["achieved"]


def _publish(log: Log, month: int, figure: object, indicator: str, year: int) -> None:
    """A plain value, or (numerator, denominator) with the value they give."""
    if isinstance(figure, tuple):
        numerator, denominator = figure
        log.figure(month, round(Decimal(numerator) / denominator * 100, 6), indicator,
                   year=year, numerator=numerator, denominator=denominator)  # fmt: skip
    else:
        log.figure(month, figure, indicator, year=year)
