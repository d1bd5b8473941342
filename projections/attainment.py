"""The one calculation: attainment of every target of an agreement, from events alone.

Pure (no IO). Used by the live projector, the rebuild, the as-of replay and the audit CLI.
Input: the recorded events of the agreement's stream and of its jobcenter's figures stream
(years Y-1 and Y matter), in position order, up to the position the answer reflects.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from events.catalogue import (
    CATALOGUE,
    AgreementClosed,
    AgreementConcluded,
    AgreementEvent,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DomainEvent,
    FigureEvent,
    MonthlyFigureCorrected,
    MonthlyFigureReported,
    TargetAmended,
    TargetSet,
    TargetWithdrawn,
)
from events.store import RecordedEvent
from projections.aggregations import Month, actual


def json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number: exact for integers, the nearest float otherwise."""
    return int(value) if value == value.to_integral_value() else float(value)


Presented = Annotated[Decimal, PlainSerializer(json_number, when_used="json")]
"""A Decimal computed exactly, presented in JSON as a number (CONTRACT.md §3)."""

Comparator = Literal["at_least", "at_most"]
Status = Literal["no_data", "on_track", "at_risk", "achieved", "missed"]


class TargetResult(BaseModel):
    """One target's result to date (CONTRACT.md §3, attainment answer)."""

    model_config = ConfigDict(frozen=True)

    target_id: str
    indicator: str
    breakdown: str
    comparator: Comparator
    unit: str
    aggregation: str
    label: str | None = None
    budget_line: str | None = None
    agreed_value: Presented
    target_value: Presented
    actual: Presented | None
    months_reported: int
    expected_to_date: Presented | None
    forecast: Presented | None
    attainment_pct: Presented | None
    status: Status
    final: bool
    revised_after_close: bool


class AgreementAttainment(BaseModel):
    """All active targets of one agreement, as known at `position`."""

    model_config = ConfigDict(frozen=True)

    agreement_id: str
    jobcenter_id: str
    year: int
    position: int
    targets: list[TargetResult]


RELEVANT: tuple[type[DomainEvent], ...] = (
    AgreementConcluded, TargetSet, TargetAmended, TargetWithdrawn, BudgetAllocated,
    BudgetDeviationRecorded, AgreementClosed, MonthlyFigureReported, MonthlyFigureCorrected,
)  # fmt: skip
RELEVANT_TYPES = frozenset(model.event_type for model in RELEVANT)
CENT = Decimal("0.01")
Signature = tuple[Decimal | None, Decimal, str, int]


@dataclass(frozen=True)
class Outcome:
    """One target's computed numbers before they become a `TargetResult`."""

    target_value: Decimal
    actual: Decimal | None
    months_reported: int
    expected_to_date: Decimal | None
    forecast: Decimal | None
    attainment_pct: Decimal | None
    status: Status
    final: bool

    @property
    def signature(self) -> Signature:
        """What makes a change of the result: actual, target value, status, months."""
        return self.actual, self.target_value, self.status, self.months_reported


@dataclass
class State:
    """What the agreement's and its figures' events say so far."""

    agreement: AgreementConcluded
    targets: dict[str, TargetSet] = field(default_factory=dict)
    amended: dict[str, Decimal] = field(default_factory=dict)
    allocated: dict[str, Decimal] = field(default_factory=dict)
    deviations: dict[str, Decimal] = field(default_factory=dict)
    figures: dict[tuple[str, str, int, int], tuple[int, Month]] = field(default_factory=dict)
    closed_at: int | None = None
    revised: set[str] = field(default_factory=set)


def attainment(agreement_id: str, events: Iterable[RecordedEvent]) -> AgreementAttainment | None:
    """The agreement's attainment from `events` (None if it was never concluded in them)."""
    recorded = list(events)
    concluded = _concluded(agreement_id, recorded)
    if concluded is None:
        return None
    with localcontext() as context:
        context.prec, context.rounding = 28, ROUND_HALF_EVEN
        state = _replay(concluded, _relevant(concluded, recorded))
        targets = [_result(target, state) for target in state.targets.values()]
    return AgreementAttainment(
        agreement_id=agreement_id,
        jobcenter_id=concluded.jobcenter_id,
        year=concluded.year,
        position=max((event.position for event in recorded), default=0),
        targets=targets,
    )


def _concluded(agreement_id: str, recorded: list[RecordedEvent]) -> AgreementConcluded | None:
    """The first AgreementConcluded of `agreement_id` among `recorded`."""
    for event in recorded:
        if event.type == "AgreementConcluded" and event.stream_id == f"agreement-{agreement_id}":
            decoded = _decode(event)
            if isinstance(decoded, AgreementConcluded) and decoded.agreement_id == agreement_id:
                return decoded
    return None


def _decode(event: RecordedEvent) -> DomainEvent:
    """The typed data of a recorded event."""
    return CATALOGUE.decode(event.type, event.schema_version, event.data)


def _relevant(
    agreement: AgreementConcluded, recorded: list[RecordedEvent]
) -> list[tuple[int, DomainEvent]]:
    """(position, data) of the agreement's events and its jobcenter's figures, in order."""
    streams = {f"agreement-{agreement.agreement_id}", f"figures-{agreement.jobcenter_id}"}
    decoded = [
        (event.position, _decode(event))
        for event in recorded
        if event.stream_id in streams and event.type in RELEVANT_TYPES
    ]
    return [(position, data) for position, data in decoded if _belongs(data, agreement)]


def _belongs(event: DomainEvent, agreement: AgreementConcluded) -> bool:
    """Whether typed data is about this agreement or its jobcenter's figures."""
    if isinstance(event, FigureEvent):
        return event.jobcenter_id == agreement.jobcenter_id
    return isinstance(event, AgreementEvent) and event.agreement_id == agreement.agreement_id


def _replay(agreement: AgreementConcluded, events: list[tuple[int, DomainEvent]]) -> State:
    """Fold the events, noting targets whose result changed after the close."""
    state = State(agreement)
    before_close: dict[str, Signature | None] = {}
    for position, event in events:
        _apply(state, position, event)
        if isinstance(event, AgreementClosed) and state.closed_at is None:
            state.closed_at = position
            before_close = {tid: _signature(state, tid) for tid in state.targets}
        elif state.closed_at is not None and position > state.closed_at:
            for target_id in _touched(state, event):
                signature = _signature(state, target_id)
                if signature != before_close.get(target_id):
                    state.revised.add(target_id)
                    before_close[target_id] = signature
    return state


def _apply(state: State, position: int, event: DomainEvent) -> None:
    """Change `state` by one event."""
    if isinstance(event, TargetSet):
        state.targets[event.target_id] = event
        state.amended.pop(event.target_id, None)
    elif isinstance(event, TargetAmended) and event.effective_from.year == state.agreement.year:
        state.amended[event.target_id] = event.value
    elif isinstance(event, TargetWithdrawn):
        state.targets.pop(event.target_id, None)
    elif isinstance(event, BudgetAllocated):
        state.allocated[event.budget_line] = event.amount_eur
    elif isinstance(event, BudgetDeviationRecorded):
        line = event.budget_line
        state.deviations[line] = state.deviations.get(line, Decimal(0)) + event.amount_eur
    elif isinstance(event, FigureEvent):
        _apply_figure(state, position, event)


def _apply_figure(state: State, position: int, event: FigureEvent) -> None:
    """Keep the latest recorded figure of a month of Y-1 or Y."""
    year, month = event.year_month
    if year not in (state.agreement.year - 1, state.agreement.year):
        return
    key = (event.indicator, event.breakdown, year, month)
    if key not in state.figures or state.figures[key][0] <= position:
        state.figures[key] = (position, Month(event.value, event.numerator, event.denominator))


def _touched(state: State, event: DomainEvent) -> list[str]:
    """The targets whose inputs `event` is about."""
    if isinstance(event, TargetSet | TargetAmended | TargetWithdrawn):
        return [event.target_id]
    if isinstance(event, BudgetAllocated | BudgetDeviationRecorded):
        return [tid for tid, t in state.targets.items() if t.budget_line == event.budget_line]
    if isinstance(event, FigureEvent):
        series = (event.indicator, event.breakdown)
        return [tid for tid, t in state.targets.items() if (t.indicator, t.breakdown) == series]
    return []


def _signature(state: State, target_id: str) -> Signature | None:
    """The change-relevant part of a target's result, None when it is not active."""
    target = state.targets.get(target_id)
    return None if target is None else _outcome(target, state).signature


def _series(state: State, target: TargetSet, year: int) -> dict[int, Month]:
    """Month -> figure in force of the target's series in `year`."""
    found = {
        month: state.figures.get((target.indicator, target.breakdown, year, month))
        for month in range(1, 13)
    }
    return {month: entry[1] for month, entry in found.items() if entry is not None}


def _target_value(target: TargetSet, state: State) -> Decimal:
    """The value in force: amended or set, scaled by the budget line's deviations."""
    value = state.amended.get(target.target_id, target.value)
    allocated = state.allocated.get(target.budget_line) if target.budget_line else None
    if not allocated:
        return value
    deviation = state.deviations.get(target.budget_line or "", Decimal(0))
    return value * (allocated + deviation) / allocated


def _outcome(target: TargetSet, state: State) -> Outcome:
    """A target's numbers from the state."""
    year = state.agreement.year
    months = _series(state, target, year)
    reported = len(months)
    value = _target_value(target, state)
    result = actual(target.aggregation, months, _series(state, target, year - 1))
    final = state.closed_at is not None or reported == 12
    is_sum = target.aggregation == "sum"
    expected = None
    if reported:
        expected = value * reported / 12 if is_sum and not final else value
    forecast = None
    if result is not None and reported:
        forecast = result * 12 / reported if is_sum else result
    return Outcome(
        target_value=value,
        actual=result,
        months_reported=reported,
        expected_to_date=expected,
        forecast=forecast,
        attainment_pct=_percent(target.comparator, result, expected),
        status=_status(target.comparator, value, result, forecast, final),
        final=final,
    )


def _meets(comparator: Comparator, value: Decimal, target_value: Decimal) -> bool:
    """Whether `value` meets `target_value` (≥ for at_least, ≤ for at_most)."""
    return value >= target_value if comparator == "at_least" else value <= target_value


def _status(
    comparator: Comparator,
    target_value: Decimal,
    result: Decimal | None,
    forecast: Decimal | None,
    final: bool,
) -> Status:
    """no_data, achieved/missed once final, on_track/at_risk before."""
    if result is None or forecast is None:
        return "no_data"
    if final:
        return "achieved" if _meets(comparator, result, target_value) else "missed"
    return "on_track" if _meets(comparator, forecast, target_value) else "at_risk"


def _percent(
    comparator: Comparator, result: Decimal | None, expected: Decimal | None
) -> Decimal | None:
    """attainment_pct to 2 decimals; None when undefined or a value is negative."""
    if result is None or expected is None or result < 0 or expected < 0:
        return None
    dividend, divisor = (result, expected) if comparator == "at_least" else (expected, result)
    if divisor == 0:
        return None
    return (dividend / divisor * 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _result(target: TargetSet, state: State) -> TargetResult:
    """The answer row of one active target."""
    outcome = _outcome(target, state)
    return TargetResult(
        target_id=target.target_id,
        indicator=target.indicator,
        breakdown=target.breakdown,
        comparator=target.comparator,
        unit=target.unit,
        aggregation=target.aggregation,
        label=target.label,
        budget_line=target.budget_line,
        agreed_value=target.value,
        target_value=outcome.target_value,
        actual=outcome.actual,
        months_reported=outcome.months_reported,
        expected_to_date=outcome.expected_to_date,
        forecast=outcome.forecast,
        attainment_pct=outcome.attainment_pct,
        status=outcome.status,
        final=outcome.final,
        revised_after_close=target.target_id in state.revised,
    )
