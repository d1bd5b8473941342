"""A log of recorded events for the attainment tests: one agreement, its targets and its
jobcenter's figures, built event by event (no IO)."""

from datetime import UTC, datetime
from typing import Any

from events.log import RecordedEvent
from projections.attainment.answers import AgreementAttainment, TargetResult
from projections.attainment.calculation import attainment

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

    def plan(self, target_id: str, plan: list[Any]) -> None:
        """Agree the cumulative monthly plan of a target."""
        self.agreement("TargetPlanSet", target_id=target_id, plan=plan)

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
