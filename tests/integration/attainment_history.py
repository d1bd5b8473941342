"""A random agreement history for the property tests: a jobcenter, a 2021 agreement with five
targets, and hypothesis operations (figures, corrections, amendments, plans, deviations, a
close) turned into upstream envelopes."""

from typing import Any

from hypothesis import strategies as st

from tests.factories import envelope

SERIES = [("integrations", "total"), ("integrations", "women"), ("ltb_stock", "total"),
          ("continuous_employment", "total")]  # fmt: skip
TARGETS = [  # target_id, indicator, breakdown, comparator, value, unit, aggregation, budget line
    ("int", "integrations", "total", "at_least", 690, "count", "sum", None),
    ("int-w", "integrations", "women", "at_least", 280, "count", "sum", "eq"),
    ("ltb", "ltb_stock", "total", "at_most", 2030, "count", "mean", None),
    ("ce", "continuous_employment", "total", "at_least", 58, "percent", "ratio", None),
    ("ltb-change", "ltb_stock", "total", "at_most", -2, "percent", "change_of_mean", None),
]


def prior(jobcenter: str, months: range) -> list[dict[str, Any]]:
    """Long-term recipients of 2020 months, which the change_of_mean target compares with."""
    return [envelope("MonthlyFigureReported", {"jobcenter_id": jobcenter,
                     "indicator": "ltb_stock", "breakdown": "total", "period": f"2020-{m:02d}",
                     "value": 2000 + m, "status": "final"}) for m in months]  # fmt: skip


def setup(jobcenter: str, agreement: str) -> list[dict[str, Any]]:
    """A jobcenter, a 2021 agreement with five targets, one budget line; 2020 figures recorded
    before the agreement was concluded and after."""
    return [
        envelope("JobcenterRegistered", {"jobcenter_id": jobcenter, "name": "J",
                                         "land": "DE-HE", "kind": "zkT"}),
        *prior(jobcenter, range(1, 4)),
        envelope("AgreementConcluded", {"agreement_id": agreement, "jobcenter_id": jobcenter,
                                        "year": 2021, "parties": ["Kreis", "Land"]}),
        envelope("BudgetAllocated", {"agreement_id": agreement, "budget_line": "eq",
                                     "amount_eur": 100000}),
        *[envelope("TargetSet", {"agreement_id": agreement, "target_id": t, "indicator": i,
                                 "breakdown": b, "comparator": c, "value": v, "unit": u,
                                 "aggregation": a} | ({"budget_line": line} if line else {}))
          for t, i, b, c, v, u, a, line in TARGETS],
        *prior(jobcenter, range(4, 7)),
    ]  # fmt: skip


figure = st.tuples(
    st.sampled_from(SERIES), st.sampled_from([2020, 2021]), st.integers(1, 12),
    st.integers(0, 3000), st.integers(0, 400), st.booleans(),
)  # fmt: skip
operation = st.one_of(
    figure.map(lambda f: ("figure", f)),
    st.tuples(st.sampled_from(TARGETS), st.integers(1, 3000)).map(lambda a: ("amend", a)),
    st.integers(-60000, 60000).map(lambda amount: ("deviation", amount)),
    st.tuples(
        st.sampled_from(["int", "int-w"]), st.lists(st.integers(0, 200), min_size=12, max_size=12)
    ).map(lambda p: ("plan", p)),
    st.just(("close", None)),
)


def to_envelope(op: tuple[str, Any], jobcenter: str, agreement: str) -> dict[str, Any]:
    """One generated operation as an upstream envelope."""
    kind, args = op
    if kind == "figure":
        (indicator, breakdown), year, month, value, numerator, corrected = args
        data = {"jobcenter_id": jobcenter, "indicator": indicator, "breakdown": breakdown,
                "period": f"{year}-{month:02d}", "value": value, "status": "final"}  # fmt: skip
        if indicator == "continuous_employment":
            data |= {"numerator": numerator, "denominator": 400, "value": numerator / 4}
        if corrected:
            return envelope("MonthlyFigureCorrected", data | {"reason": "revision"})
        return envelope("MonthlyFigureReported", data)
    if kind == "amend":
        target, value = args
        data = {"agreement_id": agreement, "target_id": target[0], "value": value,
                "effective_from": "2021-06-01", "reason": "dialog"}  # fmt: skip
        return envelope("TargetAmended", data)
    if kind == "plan":
        target_id, steps = args
        plan = [sum(steps[: month + 1]) for month in range(12)]
        plan[11] += 1  # a plan ends above zero
        return envelope("TargetPlanSet", {"agreement_id": agreement, "target_id": target_id,
                                          "plan": plan})  # fmt: skip
    if kind == "deviation":
        return envelope("BudgetDeviationRecorded", {"agreement_id": agreement,
                        "budget_line": "eq", "period": "2021-05", "amount_eur": args,
                        "reason": "shift"})  # fmt: skip
    return envelope("AgreementClosed", {"agreement_id": agreement, "closed_on": "2022-02-01"})
