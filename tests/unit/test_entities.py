"""The ingest's reference fold: versions per stream and the rules that need recorded state."""

from datetime import date
from typing import Any

import pytest

from events.catalogue import CATALOGUE, DomainEvent
from events.envelope import InvalidEvent
from events.rules import KnownEntities, Sender

TODAY = date(2026, 11, 21)


def event(type: str, **data: Any) -> DomainEvent:
    """A decoded v1 event."""
    return CATALOGUE.decode(type, 1, data)


def registered() -> KnownEntities:
    """Jobcenter 06437 with agreement odw-2022 (one target, one budget line)."""
    known = KnownEntities()
    for e in [
        event("JobcenterRegistered", jobcenter_id="06437", name="Odenwaldkreis", land="DE-HE",
              kind="zkT"),
        event("AgreementConcluded", agreement_id="odw-2022", jobcenter_id="06437", year=2022,
              parties=["Kreis", "HMSI"]),
        event("TargetSet", agreement_id="odw-2022", target_id="int", indicator="integrations",
              breakdown="total", comparator="at_least", value=770, unit="count",
              aggregation="sum"),
        event("BudgetAllocated", agreement_id="odw-2022", budget_line="eq", amount_eur=1289900),
    ]:  # fmt: skip
        known.check(e, TODAY)
        known.apply(e)
    return known


def code_of(known: KnownEntities, e: DomainEvent) -> str | None:
    """The rejection code `check` raises, or None."""
    try:
        known.check(e, TODAY)
    except InvalidEvent as invalid:
        return str(invalid.code)
    return None


def test_stream_versions_count_the_events_of_each_stream() -> None:
    known = registered()

    assert known.stream_version("jobcenter-06437") == 1
    assert known.stream_version("agreement-odw-2022") == 3
    assert known.stream_version("agreement-unknown") == 0


@pytest.mark.parametrize(("period", "code"), [("2026-11", None), ("2026-12", "period_in_future")])
def test_a_figure_may_not_lie_in_the_future(period: str, code: str | None) -> None:
    figure = event("MonthlyFigureReported", jobcenter_id="06437", indicator="integrations",
                   period=period, breakdown="total", value=60, status="final")  # fmt: skip

    assert code_of(registered(), figure) == code


def test_a_withdrawn_target_can_be_set_again_but_not_amended() -> None:
    known = registered()
    withdrawn = event("TargetWithdrawn", agreement_id="odw-2022", target_id="int", reason="x")
    known.apply(withdrawn)
    amended = event("TargetAmended", agreement_id="odw-2022", target_id="int", value=1,
                    effective_from="2022-06-01", reason="x")  # fmt: skip

    assert code_of(known, amended) == "unknown_target"
    assert code_of(known, withdrawn) == "unknown_target"


def test_after_close_only_deviations_and_dialogs_are_accepted() -> None:
    known = registered()
    known.apply(event("AgreementClosed", agreement_id="odw-2022", closed_on="2023-01-31"))
    deviation = event("BudgetDeviationRecorded", agreement_id="odw-2022", budget_line="eq",
                      period="2022-10", amount_eur=-5000, reason="cut")  # fmt: skip
    dialog = event("DialogHeld", agreement_id="odw-2022", held_on="2023-02-10", summary="s")
    goal = event("QualitativeGoalSet", agreement_id="odw-2022", goal_id="g", section="1",
                 text="t")  # fmt: skip

    assert [code_of(known, e) for e in (deviation, dialog, goal)] == [
        None, None, "agreement_closed",
    ]  # fmt: skip


PLAN = [60, 130, 210, 300, 400, 500, 600, 700, 800, 900, 1050, 1200]


@pytest.mark.parametrize(
    ("agreement_id", "target_id", "closed", "code"),
    [
        ("odw-2022", "int", False, None),
        ("odw-2022", "other", False, "unknown_target"),
        ("odw-2099", "int", False, "unknown_agreement"),
        ("odw-2022", "int", True, "agreement_closed"),
    ],
)
def test_a_plan_needs_an_active_target_of_an_open_agreement(
    agreement_id: str, target_id: str, closed: bool, code: str | None
) -> None:
    known = registered()
    if closed:
        known.apply(event("AgreementClosed", agreement_id="odw-2022", closed_on="2023-01-31"))
    plan = event("TargetPlanSet", agreement_id=agreement_id, target_id=target_id, plan=PLAN)

    assert code_of(known, plan) == code


@pytest.mark.parametrize(
    ("plan", "code"),
    [
        ([*PLAN[:5], 399, *PLAN[6:]], "plan_not_cumulative"),
        ([0] * 12, "plan_not_cumulative"),
        ([-1, *PLAN[1:]], "negative_value"),
        (PLAN[:11], "invalid_data"),
        ([*PLAN, 1300], "invalid_data"),
    ],
)
def test_a_plan_is_cumulative_non_negative_and_twelve_months_long(
    plan: list[int], code: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        event("TargetPlanSet", agreement_id="odw-2022", target_id="int", plan=plan)

    assert caught.value.code == code
    assert "data.plan" in caught.value.reason


def test_copy_is_independent() -> None:
    known = registered()
    trial = known.copy()
    trial.apply(event("AgreementClosed", agreement_id="odw-2022", closed_on="2023-01-31"))

    assert not known.agreements["odw-2022"].closed


def test_a_copy_and_its_original_change_independently_both_ways() -> None:
    original = registered()
    trial = original.copy()
    snapshot = repr(original)

    trial.apply(event("TargetWithdrawn", agreement_id="odw-2022", target_id="int",
                      reason="withdrawn in the trial"))  # fmt: skip
    trial.apply(event("AgreementClosed", agreement_id="odw-2022", closed_on="2023-03-31"))
    assert repr(original) == snapshot
    original.apply(event("BudgetAllocated", agreement_id="odw-2022", budget_line="extra",
                         amount_eur=1000))  # fmt: skip
    original.apply(event("AgreementClosed", agreement_id="odw-2022", closed_on="2023-03-31"))

    assert trial.agreements["odw-2022"].budget_lines == {"eq"}
    assert trial.agreements["odw-2022"].active_targets == set()
    assert original.agreements["odw-2022"].active_targets == {"int"}
    assert original.agreements["odw-2022"].budget_lines == {"eq", "extra"}
    assert (original.stream_version("agreement-odw-2022"),
            trial.stream_version("agreement-odw-2022")) == (5, 5)  # fmt: skip


def test_a_comparison_type_is_assigned_to_a_registered_jobcenter_on_its_stream() -> None:
    known = registered()
    assigned = {"year": 2024, "type_code": "IIb", "type_name": "Typ IIb",
                "typology": "SGB-II-Typisierung des IAB", "typology_version": "2024"}  # fmt: skip

    assert code_of(known, event("ComparisonTypeAssigned", jobcenter_id="99999", **assigned)) == (
        "unknown_jobcenter"
    )
    accepted = event("ComparisonTypeAssigned", jobcenter_id="06437", **assigned)
    assert code_of(known, accepted) is None
    known.apply(accepted)
    assert known.stream_version("jobcenter-06437") == 2
    assert known.lands["06437"] == "DE-HE"


def test_a_sender_limited_to_jobcenters_assigns_types_to_those_only() -> None:
    known = registered()
    known.apply(event("JobcenterRegistered", jobcenter_id="06435", name="Main-Kinzig-Kreis",
                      land="DE-HE", kind="zkT"))  # fmt: skip
    sender = Sender("ba-statistik", jobcenters=frozenset({"06437"}))
    assigned = {"year": 2024, "type_code": "Ib", "type_name": "Typ Ib",
                "typology": "SGB-II-Typisierung des IAB", "typology_version": "2024"}  # fmt: skip

    own = event("ComparisonTypeAssigned", jobcenter_id="06437", **assigned)
    other = event("ComparisonTypeAssigned", jobcenter_id="06435", **assigned)

    known.check_sender(sender, "ba-statistik", own)
    with pytest.raises(InvalidEvent, match="may not write for jobcenter '06435'"):
        known.check_sender(sender, "ba-statistik", other)
