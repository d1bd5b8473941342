"""The attainment calculation over an agreement's life, from plain lists of recorded events (no IO):
vintages, amendments, budget scaling, withdrawals, closing and revisions, publication order."""

from datetime import UTC, datetime
from decimal import Decimal

from projections.attainment.calculation import attainment
from tests.unit.attainment_log import AGREEMENT, JOBCENTER, Log


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
    assert result.forecast == 360  # once final: the actual


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
