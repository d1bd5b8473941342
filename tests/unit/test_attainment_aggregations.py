"""The attainment calculation, one aggregation at a time: the worked examples, sum, mean, quota,
ratio, last and change, each against hand-computed values and its edge cases (no IO)."""

from decimal import Decimal

from tests.unit.attainment_log import Log, fractions


def test_worked_example_integrations_achieved(log: Log) -> None:
    log.target("t", 690)
    log.figures([60] * 11 + [58])

    result = log.result()

    assert (result.actual, result.months_reported, result.final) == (Decimal(718), 12, True)
    assert (result.expected_to_date, result.forecast) == (Decimal(690), Decimal(718))
    assert result.status == "achieved"
    assert str(result.attainment_pct) == "104.06"


def test_worked_example_long_term_recipients_missed(log: Log) -> None:
    log.target("t", 2030, "mean", "ltb_stock", "at_most")
    log.figures([2030, 2040] * 6, "ltb_stock")

    result = log.result()

    assert (result.actual, result.expected_to_date, result.forecast) == (
        Decimal(2035),
        Decimal(2030),
        Decimal(2035),
    )
    assert result.status == "missed"
    assert str(result.attainment_pct) == "99.75"


def test_sum_in_year_is_prorated_and_forecast(log: Log) -> None:
    log.target("t", 690)
    log.figures([60] * 6)

    result = log.result()

    assert (result.actual, result.expected_to_date, result.forecast) == (
        Decimal(360),
        Decimal(345),
        Decimal(720),
    )
    assert (result.status, result.final) == ("on_track", False)
    assert result.attainment_pct == Decimal("104.35")


def test_sum_behind_forecast_is_at_risk(log: Log) -> None:
    log.target("t", 690)
    log.figures([50] * 3)

    result = log.result()

    assert (result.forecast, result.status) == (Decimal(600), "at_risk")
    assert result.attainment_pct == Decimal("86.96")


def test_no_months_is_no_data(log: Log) -> None:
    log.target("t", 690)
    log.figure(1, 60, "other_indicator")

    result = log.result()

    assert result.status == "no_data"
    assert result.months_reported == 0
    assert (result.actual, result.expected_to_date, result.forecast) == (None, None, None)
    assert result.attainment_pct is None


def test_mean(log: Log) -> None:
    log.target("t", 2000, "mean", "elb_stock", "at_most")
    log.figures([2100, 2000, 1900, 2004], "elb_stock")

    result = log.result()

    assert result.actual == Decimal(2001)
    assert result.status == "at_risk"
    assert result.attainment_pct == Decimal("99.95")


def test_quota_skips_months_without_fractions(log: Log) -> None:
    log.target("t", 2, "quota", "rate")
    fractions(log, [(10, 1000), None, (20, 2000), (30, 3000)])

    result = log.result()

    assert result.actual == Decimal(3)  # 60 / mean(1000, 2000, 3000) * 100
    assert (result.months_reported, result.status) == (4, "on_track")
    assert result.attainment_pct == Decimal("450.00")  # 3 / (2 * 4 / 12) * 100, linear


def test_quota_without_any_fraction_is_no_data(log: Log) -> None:
    log.target("t", 2, "quota", "rate")
    fractions(log, [None, None])

    result = log.result()

    assert (result.actual, result.status, result.attainment_pct) == (None, "no_data", None)
    assert result.months_reported == 2


def test_quota_with_zero_denominators_is_undefined(log: Log) -> None:
    log.target("t", 2, "quota", "rate")
    fractions(log, [(0, 0), (0, 0)])

    assert log.result().actual is None


def test_ratio(log: Log) -> None:
    log.target("t", 58, "ratio", "continuous_employment")
    fractions(log, [(58, 100), (42, 100), (150, 200)], "continuous_employment")

    result = log.result()

    assert result.actual == Decimal(250) / Decimal(400) * 100
    assert result.status == "on_track"


def test_ratio_with_zero_denominator_sum_is_undefined(log: Log) -> None:
    log.target("t", 58, "ratio", "rate")
    fractions(log, [(0, 0)])

    result = log.result()

    assert (result.actual, result.status, result.attainment_pct) == (None, "no_data", None)


def test_mean_rate_skips_zero_denominators(log: Log) -> None:
    log.target("t", 24, "mean_rate", "rate")
    fractions(log, [(10, 100), (0, 0), (30, 100), (1, 3)])

    result = log.result()

    expected = (Decimal(10) + Decimal(30) + Decimal(1) / Decimal(3) * 100) / 3
    assert result.actual == expected
    assert result.status == "on_track"


def test_last_takes_the_latest_month_not_the_latest_publication(log: Log) -> None:
    log.target("t", 50, "last", "k3e2")
    log.figure(5, 40, "k3e2")
    log.figure(3, 90, "k3e2")

    result = log.result()

    assert (result.actual, result.status) == (Decimal(40), "at_risk")
    assert result.attainment_pct == Decimal("80.00")


def test_last_uses_numerator_over_denominator_where_given(log: Log) -> None:
    log.target("t", 50, "last", "rate")
    log.figure(4, 99, "rate", numerator=3, denominator=4)

    assert log.result().actual == 75


def test_change_of_sum_leaves_out_months_missing_a_year_earlier(log: Log) -> None:
    log.target("t", 5, "change_of_sum", "llu_eur")
    log.figures([110, 120, 999], "llu_eur")
    log.figure(1, 100, "llu_eur", year=2020)
    log.figure(2, 100, "llu_eur", year=2020)

    result = log.result()

    assert result.actual == Decimal(15)  # 230 / 200 - 1
    assert (result.months_reported, result.forecast, result.status) == (3, Decimal(15), "on_track")


def test_change_without_prior_months_is_undefined(log: Log) -> None:
    log.target("t", 5, "change_of_sum", "llu_eur")
    log.figures([110, 120], "llu_eur")
    log.figure(5, 100, "llu_eur", year=2020)

    assert (log.result().actual, log.result().status) == (None, "no_data")


def test_change_against_zero_is_undefined(log: Log) -> None:
    log.target("t", 5, "change_of_sum", "balance")
    log.figures([10], "balance")
    log.figure(1, 0, "balance", year=2020)

    assert log.result().actual is None


def test_change_of_mean_negative_is_judged_on_levels(log: Log) -> None:
    log.target("t", -5, "change_of_mean", "ltb_stock", "at_most")
    log.figures([90, 90, 93], "ltb_stock")
    log.figures([100, 100], "ltb_stock", year=2020)

    result = log.result()

    assert result.actual == Decimal(-10)
    assert result.status == "on_track"
    assert (result.baseline, result.actual_level, result.target_level) == (100, 90, 95)
    assert result.attainment_pct == Decimal("105.56")  # 95 / 90 * 100


def test_negative_actual_has_a_negative_attainment_pct(log: Log) -> None:
    log.target("t", 10, "sum", "balance")
    log.figures([5, -20], "balance")

    result = log.result()

    assert (result.actual, result.status) == (Decimal(-15), "at_risk")
    assert result.attainment_pct == Decimal("-900.00")  # -15 / (10 * 2 / 12) * 100


def test_at_most_with_zero_actual_has_no_attainment_pct(log: Log) -> None:
    log.target("t", 10, "mean", "sanctions", "at_most")
    log.figures([0, 0], "sanctions")

    result = log.result()

    assert (result.actual, result.status, result.attainment_pct) == (Decimal(0), "on_track", None)
