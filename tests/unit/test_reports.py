"""What the reports show besides the answers' numbers: the trajectory of a target (its actual
at each month's end, by the one calculation) and the German formats (no IO)."""

from datetime import UTC, date, datetime
from decimal import Decimal

from projections.attainment.calculation import fold, trajectory
from services.reports import german
from tests.unit.attainment_log import AGREEMENT, Log


def test_the_trajectory_of_a_sum_is_the_running_total_ending_at_the_actual(log: Log) -> None:
    log.target("t", 690)
    log.figures([55, 52, 63])
    log.figure(2, 50, corrected=True)
    state = fold(AGREEMENT, log.events)
    assert state is not None

    assert trajectory(state, "t") == [55, 105, 168, *[None] * 9]
    assert trajectory(state, "t")[2] == log.result().actual
    assert trajectory(state, "withdrawn-or-unknown") == []


def test_the_trajectory_of_a_mean_is_the_mean_to_date(log: Log) -> None:
    log.target("t", 2030, aggregation="mean", indicator="ltb_stock", comparator="at_most")
    log.figures([2050, 2040, 2030, 2020], indicator="ltb_stock")
    state = fold(AGREEMENT, log.events)
    assert state is not None

    assert trajectory(state, "t")[:4] == [2050, 2045, 2040, 2035]
    assert trajectory(state, "t")[3] == log.result().actual


def test_numbers_dates_and_names_in_german() -> None:
    assert german.with_unit(Decimal(1494300), "eur") == "1.494.300 €"
    assert german.number(Decimal("2012.7777")) == "2.012,78"
    assert german.number(-18500) == "-18.500"
    assert german.percent(Decimal("104.06")) == "104,06 %"
    assert german.percent(Decimal(100)) == "100,00 %"
    assert german.with_unit(None, "count") == "\u2013"  # an en dash
    assert german.day(date(2024, 12, 31)) == "31.12.2024"
    assert german.moment(datetime(2022, 8, 27, 8, tzinfo=UTC)) == "27.08.2022, 08:00 UTC"
    assert german.period("2022-04") == "04/2022"
    assert german.STATUS["at_risk"] == "gefährdet"
    assert german.target_name("integrations", "women", None) == "Integrationen (Frauen)"
    assert german.target_name("x", "men", "Bestand") == "Bestand (Männer)"
