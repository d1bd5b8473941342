"""The attainment calculation, from plain lists of recorded events (no IO)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from events.store import RecordedEvent
from projections.attainment import AgreementAttainment, TargetResult, attainment

AGREEMENT = "odw-2021"
JOBCENTER = "06437"


class Log:
    """A growing list of recorded events of one agreement and its jobcenter's figures."""

    def __init__(self, year: int = 2021) -> None:
        self.year = year
        self.events: list[RecordedEvent] = []

    def add(
        self,
        stream_id: str,
        type: str,
        data: dict[str, Any],
        occurred_at: datetime = datetime(2022, 1, 1, tzinfo=UTC),
    ) -> RecordedEvent:
        """Record an event at the next position, published by the source at `occurred_at`."""
        position = len(self.events) + 1
        event = RecordedEvent(
            stream_id=stream_id,
            type=type,
            source="test",
            message_id=f"msg-{position}",
            occurred_at=occurred_at,
            data=data,
            position=position,
            stream_version=position,
            recorded_at=datetime(2022, 1, 1, tzinfo=UTC),
            prev_hash="0" * 64,
            hash=f"{position:064x}",
        )
        self.events.append(event)
        return event

    def agreement(self, type: str, agreement_id: str = AGREEMENT, **data: Any) -> RecordedEvent:
        """An event of the agreement's stream."""
        return self.add(f"agreement-{agreement_id}", type, {"agreement_id": agreement_id} | data)

    def conclude(self, agreement_id: str = AGREEMENT, jobcenter_id: str = JOBCENTER) -> None:
        """Conclude the agreement for `self.year`."""
        self.agreement(
            "AgreementConcluded",
            agreement_id,
            jobcenter_id=jobcenter_id,
            year=self.year,
            parties=["Kreis", "HMSI"],
        )

    def target(
        self,
        target_id: str,
        value: Any,
        aggregation: str = "sum",
        indicator: str = "integrations",
        comparator: str = "at_least",
        **extra: Any,
    ) -> None:
        """Set a target on the agreement."""
        self.agreement(
            "TargetSet",
            target_id=target_id,
            indicator=indicator,
            breakdown="total",
            comparator=comparator,
            value=value,
            unit="count",
            aggregation=aggregation,
            **extra,
        )

    def figure(
        self,
        month: int,
        value: Any,
        indicator: str = "integrations",
        year: int | None = None,
        corrected: bool = False,
        jobcenter_id: str = JOBCENTER,
        published: datetime = datetime(2022, 1, 1, tzinfo=UTC),
        **extra: Any,
    ) -> None:
        """Publish (or correct) the figure of one month of `year` (default: the agreement's),
        as the source did at `published`."""
        data = {
            "jobcenter_id": jobcenter_id,
            "indicator": indicator,
            "period": f"{year or self.year}-{month:02d}",
            "breakdown": "total",
            "value": value,
            "status": "final",
        } | extra
        if corrected:
            data["reason"] = "BA correction"
        kind = "MonthlyFigureCorrected" if corrected else "MonthlyFigureReported"
        self.add(f"figures-{jobcenter_id}", kind, data, published)

    def figures(self, values: list[Any], indicator: str = "integrations", **extra: Any) -> None:
        """Publish months 1, 2, ... with `values`."""
        for month, value in enumerate(values, start=1):
            self.figure(month, value, indicator, **extra)

    def close(self) -> None:
        """Close the agreement."""
        self.agreement("AgreementClosed", closed_on="2022-04-30")

    def answer(self) -> AgreementAttainment:
        """The attainment of the agreement from everything recorded."""
        result = attainment(AGREEMENT, self.events)
        assert result is not None
        return result

    def result(self, target_id: str = "t") -> TargetResult:
        """One target's result."""
        return next(t for t in self.answer().targets if t.target_id == target_id)


def fractions(log: Log, pairs: list[tuple[int, int] | None], indicator: str = "rate") -> None:
    """Publish months 1, 2, ... with (numerator, denominator), or only a value for None."""
    for month, pair in enumerate(pairs, start=1):
        if pair is None:
            log.figure(month, 1, indicator)
        else:
            log.figure(month, 1, indicator, numerator=pair[0], denominator=pair[1])


@pytest.fixture
def log() -> Log:
    """A concluded Odenwaldkreis 2021 agreement without targets."""
    log = Log()
    log.conclude()
    return log


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
    assert result.attainment_pct == Decimal("150.00")


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


def test_change_of_mean_negative_has_no_attainment_pct(log: Log) -> None:
    log.target("t", -5, "change_of_mean", "ltb_stock", "at_most")
    log.figures([90, 90, 93], "ltb_stock")
    log.figures([100, 100], "ltb_stock", year=2020)

    result = log.result()

    assert result.actual == Decimal(-10)
    assert result.status == "on_track"
    assert result.attainment_pct is None


def test_negative_actual_has_no_attainment_pct(log: Log) -> None:
    log.target("t", 10, "sum", "balance")
    log.figures([5, -20], "balance")

    result = log.result()

    assert (result.actual, result.status, result.attainment_pct) == (Decimal(-15), "at_risk", None)


def test_at_most_with_zero_actual_has_no_attainment_pct(log: Log) -> None:
    log.target("t", 10, "mean", "sanctions", "at_most")
    log.figures([0, 0], "sanctions")

    result = log.result()

    assert (result.actual, result.status, result.attainment_pct) == (Decimal(0), "on_track", None)


def test_corrections_and_republications_replace_earlier_vintages(log: Log) -> None:
    log.target("t", 690)
    log.figures([60, 60])
    log.figure(1, 70, corrected=True)
    log.figure(2, 65)

    assert log.result().actual == 135


def test_amendment_changes_target_value_and_status(log: Log) -> None:
    log.target("t", 690)
    log.figures([60] * 11 + [58])
    log.agreement("TargetAmended", target_id="t", value=750, effective_from="2021-07-01",
                  reason="dialog")  # fmt: skip
    log.agreement("TargetAmended", target_id="t", value=900, effective_from="2022-01-01",
                  reason="next year")  # fmt: skip

    result = log.result()

    assert (result.agreed_value, result.target_value, result.status) == (
        Decimal(690),
        Decimal(750),
        "missed",
    )
    assert result.attainment_pct == Decimal("95.73")


def test_budget_linked_target_is_scaled_by_deviations(log: Log) -> None:
    log.agreement("BudgetAllocated", budget_line="training", amount_eur=1289900)
    log.target("t", 690, budget_line="training")
    log.agreement("BudgetDeviationRecorded", budget_line="training", period="2021-06",
                  amount_eur=-128990, reason="cut")  # fmt: skip
    log.figures([60] * 11 + [58])

    result = log.result()

    assert (result.agreed_value, result.target_value) == (Decimal(690), Decimal(621))  # factor 0.9
    assert result.budget_line == "training"
    assert result.attainment_pct == Decimal("115.62")


def test_budget_line_without_allocation_does_not_scale(log: Log) -> None:
    log.agreement("BudgetAllocated", budget_line="empty", amount_eur=0)
    log.target("t", 690, budget_line="empty")
    log.target("u", 690, budget_line="unknown")

    assert [t.target_value for t in log.answer().targets] == [690, 690]


def test_withdrawn_targets_disappear_and_order_is_kept(log: Log) -> None:
    for target_id in ("c", "a", "b"):
        log.target(target_id, 690)
    log.agreement("TargetWithdrawn", target_id="a", reason="dropped")

    assert [t.target_id for t in log.answer().targets] == ["c", "b"]


def test_other_jobcenters_and_agreements_are_ignored(log: Log) -> None:
    log.target("t", 690)
    log.figures([60, 60])
    log.figures([500, 500], jobcenter_id="06435")
    log.add("figures-06437", "MonthlyFigureReported", {
        "jobcenter_id": "06435", "indicator": "integrations", "period": "2021-03",
        "breakdown": "total", "value": 500, "status": "final"})  # fmt: skip
    log.agreement("TargetWithdrawn", "other-2021", target_id="t", reason="other agreement")
    log.agreement("AgreementClosed", "other-2021", closed_on="2022-01-31")

    result = log.result()

    assert (result.actual, result.months_reported, result.final) == (Decimal(120), 2, False)


def test_final_by_closing(log: Log) -> None:
    log.target("t", 690)
    log.figures([60] * 6)
    log.close()

    result = log.result()

    assert (result.final, result.status, result.expected_to_date) == (True, "missed", Decimal(690))
    assert result.forecast == 720


def test_final_by_twelve_months_without_closing(log: Log) -> None:
    log.target("t", 600)
    log.figures([60] * 11)
    assert (log.result().final, log.result().status) == (False, "on_track")

    log.figure(12, 60)

    assert (log.result().final, log.result().status) == (True, "achieved")
    assert not log.result().revised_after_close


def test_correction_after_close_is_a_revision(log: Log) -> None:
    log.target("t", 690)
    log.target("u", 2030, "mean", "ltb_stock", "at_most")
    log.figures([60] * 12)
    log.figures([2000] * 12, "ltb_stock")
    log.close()
    log.figure(3, 61, corrected=True)

    first, second = log.answer().targets

    assert (first.actual, first.revised_after_close) == (Decimal(721), True)
    assert second.revised_after_close is False


def test_correction_before_close_is_not_a_revision(log: Log) -> None:
    log.target("t", 690)
    log.figures([60] * 12)
    log.figure(3, 61, corrected=True)
    log.close()

    assert log.result().revised_after_close is False


def test_events_after_close_that_change_nothing_are_no_revision(log: Log) -> None:
    log.target("t", 690)
    log.figures([60] * 12)
    log.close()
    log.figure(3, 60, corrected=True)
    log.figure(1, 99, year=2022)
    log.figure(1, 99, "ltb_stock")
    log.agreement("DialogHeld", held_on="2022-05-01", summary="review")

    assert log.result().revised_after_close is False


def test_amendment_and_deviation_after_close_are_revisions(log: Log) -> None:
    log.agreement("BudgetAllocated", budget_line="training", amount_eur=1000)
    log.target("t", 690)
    log.target("u", 690, budget_line="training")
    log.close()
    log.agreement("TargetAmended", target_id="t", value=700, effective_from="2021-01-01",
                  reason="late")  # fmt: skip
    log.agreement("BudgetDeviationRecorded", budget_line="training", period="2021-12",
                  amount_eur=-100, reason="cut")  # fmt: skip

    assert [t.revised_after_close for t in log.answer().targets] == [True, True]


def test_revision_is_reproducible_as_of_a_position(log: Log) -> None:
    log.target("t", 690)
    log.figures([60] * 12)
    log.close()
    before = len(log.events)
    log.figure(3, 61, corrected=True)

    as_of = attainment(AGREEMENT, log.events[:before])

    assert as_of is not None
    assert (as_of.position, as_of.targets[0].actual) == (before, Decimal(720))
    assert as_of.targets[0].revised_after_close is False


def test_answer_header_and_position_counts_every_given_event(log: Log) -> None:
    log.target("t", 690)
    log.figure(1, 5, jobcenter_id="09999")

    answer = log.answer()

    assert (answer.agreement_id, answer.jobcenter_id, answer.year) == (AGREEMENT, JOBCENTER, 2021)
    assert answer.position == 3


def test_without_conclusion_there_is_no_answer() -> None:
    log = Log()
    log.conclude("other-2021")

    assert attainment(AGREEMENT, log.events) is None
    assert attainment(AGREEMENT, []) is None


def test_attainment_pct_rounds_half_up(log: Log) -> None:
    log.target("t", 800, "mean", "elb_stock")
    log.figures([1], "elb_stock")

    assert str(log.result().attainment_pct) == "0.13"  # 0.125


def test_a_report_recorded_after_its_correction_does_not_override_it() -> None:
    log = Log()
    log.conclude()
    log.target("t", 100)
    log.figure(1, 12, corrected=True, published=datetime(2021, 7, 1, tzinfo=UTC))
    log.figure(1, 10, published=datetime(2021, 4, 1, tzinfo=UTC))  # arrives late

    assert log.result().actual == 12


def test_the_source_s_latest_publication_is_in_force_whatever_the_record_order() -> None:
    in_order, late = Log(), Log()
    for log in (in_order, late):
        log.conclude()
        log.target("t", 100)
    in_order.figure(1, 10, published=datetime(2021, 4, 1, tzinfo=UTC))
    in_order.figure(1, 12, corrected=True, published=datetime(2021, 7, 1, tzinfo=UTC))
    late.figure(1, 12, corrected=True, published=datetime(2021, 7, 1, tzinfo=UTC))
    late.figure(1, 10, published=datetime(2021, 4, 1, tzinfo=UTC))

    assert in_order.result().actual == late.result().actual == 12
