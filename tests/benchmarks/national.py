"""A synthetic national workload, as events to append straight to a store: jobcenters, a yearly
agreement each with eight targets (sum, mean, ratio, quota, mean_rate, last, change_of_sum)
and a budget line, 18 monthly series per jobcenter, about 2 % corrections, amendments, budget
deviations, a withdrawal, closes and corrections after a close.

Order as in life: the figures of the year before come first (so agreements are concluded after
figures their targets use), then month by month the year's figures and agreement events.
"""

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from events.store import NewEvent

SERIES = [  # indicator, breakdown, with numerator and denominator
    ("integrations", "total", False), ("integrations", "women", False),
    ("integrations", "men", False), ("ltb_stock", "total", False), ("ltb_stock", "women", False),
    ("elb_stock", "total", False), ("elb_stock", "women", False), ("llu_eur", "total", False),
    ("u25_training_integrations", "total", False), ("continuous_employment", "total", True),
    ("k2", "total", True), ("k1e3", "total", True), ("k3e2", "total", True),
    ("k1", "total", False), ("k1e2", "total", False), ("k3", "total", False),
    ("k2e1", "total", True), ("k3e1", "total", True),
]  # fmt: skip
TARGETS = [  # target_id, indicator, breakdown, comparator, value, unit, aggregation, budget line
    ("int", "integrations", "total", "at_least", 690, "count", "sum", "eq"),
    ("int-w", "integrations", "women", "at_least", 280, "count", "sum", None),
    ("ltb", "ltb_stock", "total", "at_most", 2030, "count", "mean", None),
    ("ce", "continuous_employment", "total", "at_least", 58, "percent", "ratio", None),
    ("k2", "k2", "total", "at_least", 40, "percent", "quota", None),
    ("k1e3", "k1e3", "total", "at_least", 30, "percent", "mean_rate", None),
    ("k3e2", "k3e2", "total", "at_least", 50, "percent", "last", None),
    ("k1", "k1", "total", "at_most", -2, "percent", "change_of_sum", None),
]  # fmt: skip
MOMENT = datetime(2024, 1, 1, tzinfo=UTC)


class National:
    """Builds the events; `events()` yields them in the order they are appended."""

    def __init__(self, jobcenters: int = 404, years: int = 1, first_year: int = 2021,
                 seed: int = 1, prefix: str = "nat") -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.jobcenters = [f"{prefix}{n:05d}" for n in range(jobcenters)]
        self.years = [first_year + n for n in range(years)]
        self.count = 0

    def event(self, stream_id: str, type: str, data: dict[str, Any]) -> NewEvent:
        """One event with a unique message id."""
        self.count += 1
        return NewEvent(
            stream_id=stream_id, type=type, source="bench", message_id=f"m{self.count}",
            occurred_at=MOMENT, data=data,
        )  # fmt: skip

    def figure(self, jobcenter: str, series: tuple[str, str, bool], period: str,
               corrected: bool = False) -> NewEvent:  # fmt: skip
        """A report (or correction) of one month of one series."""
        indicator, breakdown, fraction = series
        data: dict[str, Any] = {
            "jobcenter_id": jobcenter, "indicator": indicator, "breakdown": breakdown,
            "period": period, "value": self.rng.randint(1, 3000), "status": "final",
        }  # fmt: skip
        if fraction:
            denominator = self.rng.randint(100, 1000)
            data |= {"numerator": self.rng.randint(0, denominator), "denominator": denominator}
        if corrected:
            return self.event(f"figures-{jobcenter}", "MonthlyFigureCorrected",
                              data | {"reason": "BA revision"})  # fmt: skip
        return self.event(f"figures-{jobcenter}", "MonthlyFigureReported", data)

    def month(self, year: int, month: int) -> Iterator[NewEvent]:
        """Every jobcenter's figures of a month, and ~2 % corrections of earlier months."""
        for jobcenter in self.jobcenters:
            for series in SERIES:
                yield self.figure(jobcenter, series, f"{year}-{month:02d}")
                if self.rng.random() < 0.02:
                    earlier = self.rng.randint(1, month)
                    yield self.figure(jobcenter, series, f"{year}-{earlier:02d}", corrected=True)

    def agreement(self, jobcenter: str, year: int) -> Iterator[NewEvent]:
        """Conclusion, budget line and eight targets."""
        agreement, stream = f"{jobcenter}-{year}", f"agreement-{jobcenter}-{year}"
        yield self.event(stream, "AgreementConcluded", {
            "agreement_id": agreement, "jobcenter_id": jobcenter, "year": year,
            "parties": ["Kreis", "Land"]})  # fmt: skip
        yield self.event(stream, "BudgetAllocated", {
            "agreement_id": agreement, "budget_line": "eq", "amount_eur": 100000})  # fmt: skip
        for tid, indicator, breakdown, comparator, value, unit, aggregation, line in TARGETS:
            data = {"agreement_id": agreement, "target_id": tid, "indicator": indicator,
                    "breakdown": breakdown, "comparator": comparator, "value": value,
                    "unit": unit, "aggregation": aggregation}  # fmt: skip
            yield self.event(stream, "TargetSet", data | ({"budget_line": line} if line else {}))

    def changes(self, jobcenter: str, year: int, month: int) -> Iterator[NewEvent]:
        """Now and then an amendment, a deviation or a withdrawal."""
        agreement, stream = f"{jobcenter}-{year}", f"agreement-{jobcenter}-{year}"
        roll = self.rng.random()
        if roll < 0.05:
            value = self.rng.randint(1900, 2100)
            yield self.event(stream, "TargetAmended", {
                "agreement_id": agreement, "target_id": "ltb", "value": value,
                "effective_from": f"{year}-{month:02d}-01", "reason": "dialog"})  # fmt: skip
        elif roll < 0.10:
            yield self.event(stream, "BudgetDeviationRecorded", {
                "agreement_id": agreement, "budget_line": "eq", "period": f"{year}-{month:02d}",
                "amount_eur": self.rng.randint(-20000, 20000), "reason": "shift"})  # fmt: skip
        elif roll < 0.101:
            yield self.event(stream, "TargetWithdrawn", {
                "agreement_id": agreement, "target_id": "int-w", "reason": "dropped"})  # fmt: skip

    def events(self) -> Iterator[NewEvent]:
        """The whole workload in append order."""
        for jobcenter in self.jobcenters:
            data = {"jobcenter_id": jobcenter, "name": jobcenter, "land": "DE-HE", "kind": "gE"}
            yield self.event(f"jobcenter-{jobcenter}", "JobcenterRegistered", data)
        for month in range(1, 13):
            yield from self.month(self.years[0] - 1, month)
        for year in self.years:
            for jobcenter in self.jobcenters:
                yield from self.agreement(jobcenter, year)
            for month in range(1, 13):
                yield from self.month(year, month)
                if month < 12:
                    for jobcenter in self.jobcenters:
                        yield from self.changes(jobcenter, year, month)
            for jobcenter in self.jobcenters:
                data = {"agreement_id": f"{jobcenter}-{year}", "closed_on": f"{year + 1}-02-01"}
                yield self.event(f"agreement-{jobcenter}-{year}", "AgreementClosed", data)
            for jobcenter in self.rng.sample(self.jobcenters, max(1, len(self.jobcenters) // 10)):
                yield self.figure(jobcenter, SERIES[0], f"{year}-06", corrected=True)
