"""The one calculation: attainment of every target of an agreement, as a fold over events.

Pure (no IO). `apply(state, position, event)` folds one event of the agreement's stream or of its
jobcenters' figures (years Y-1 and Y matter), in position order, and names the targets it may
change; a Land or federal agreement (a roll-up) keeps each member's figures and measures its
targets on their sum (`summed`: numerators, denominators and counts added, never a key figure's
values averaged); `evaluate`/`target_result` give one target's result from the state. The live
projector and the rebuild keep the state and apply each event once; the as-of replay and the
audit CLI fold a list (`attainment`, `projections.attainment.results.walk`).

Longer than most modules on purpose: the fold, the per-target numbers and their presentation are
the one calculation and are read together.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

from events.catalogue import (
    AgreementClosed,
    AgreementConcluded,
    AgreementMembersSet,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DomainEvent,
    FigureEvent,
    TargetAmended,
    TargetPlanSet,
    TargetSet,
    TargetWithdrawn,
)
from events.indicators import LEVEL_CHANGES, known_indicator
from events.log import RecordedEvent
from projections.attainment.aggregations import (
    HUNDRED,
    Month,
    Outcome,
    Signature,
    Target,
    judge,
)
from projections.attainment.answers import AgreementAttainment, TargetResult
from projections.attainment.inputs import candidates, concluded_in, relevant

CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
FigureKey = tuple[str, str, int, int]
"""(indicator, breakdown, year, month) of a figure of the agreement's jobcenter (of a roll-up:
of one member, or of their sum)."""


ADDITIVE = frozenset({"sum", "mean"})
"""The default aggregations of the known series whose values add up across jobcenters (counts,
stocks, amounts); the others' values are percentages."""

Vintage = tuple[int, int]
"""Which publication of a month is in force: (`occurred_at` in µs since the epoch, position);
the source's latest publication wins, ties by record order."""


@dataclass
class State:
    """What the agreement's and its jobcenter's figure events say so far: the fold's state."""

    agreement: AgreementConcluded
    targets: dict[str, TargetSet] = field(default_factory=dict)
    amended: dict[str, Decimal] = field(default_factory=dict)
    plans: dict[str, tuple[Decimal, ...]] = field(default_factory=dict)
    """Target -> its latest agreed cumulative monthly plan."""
    allocated: dict[str, Decimal] = field(default_factory=dict)
    deviations: dict[str, Decimal] = field(default_factory=dict)
    figures: dict[FigureKey, tuple[Vintage, Month]] = field(default_factory=dict)
    """The series the targets are measured on: the jobcenter's figures in force, or a roll-up's
    summed months (those every member has; the vintage is the latest of the members')."""
    members: tuple[str, ...] = ()
    """A roll-up's member jobcenters: its latest recorded `AgreementMembersSet`."""
    member_figures: dict[str, dict[FigureKey, tuple[Vintage, Month]]] = field(default_factory=dict)
    """A roll-up's figures in force per jobcenter whose figures reached it (members and
    jobcenters that were or will be members; only the members are summed)."""
    tallies: "dict[FigureKey, Tally]" = field(default_factory=dict, compare=False, repr=False)
    """A roll-up's running sums of its members' figures (derived from `member_figures`)."""
    closed_at: int | None = None
    revised: set[str] = field(default_factory=set)
    at_close: dict[str, Signature | None] = field(default_factory=dict)
    """Each target's signature at the close, moved on with every revision after it."""
    events: int = 0
    """How many events were folded into it since the conclusion (its snapshots' clock)."""
    encoded: dict[Any, tuple[object, str]] = field(default_factory=dict, compare=False, repr=False)
    """Its parts (models, figure rows) as JSON text when last encoded, each with the part
    (`projections.attainment.codec.encode_state`)."""


@dataclass(frozen=True)
class Evaluation:
    """One active target's result as the state gives it (a `TargetResult` before presenting)."""

    target: TargetSet
    outcome: Outcome
    revised: bool

    def result(self) -> TargetResult:
        """The answer row of this target."""
        return _result(self.target, self.outcome, self.revised)


def new_state(agreement: AgreementConcluded) -> State:
    """The state of a freshly concluded agreement."""
    return State(agreement)


def vintage(recorded: RecordedEvent) -> Vintage:
    """The publication order of a recorded figure: the source's `occurred_at`, then position."""
    return round(recorded.occurred_at.timestamp() * 1_000_000), recorded.position


def apply(
    state: State,
    recorded: RecordedEvent,
    event: DomainEvent,
    touched: list[str] | None = None,
    outcomes: dict[str, Outcome] | None = None,
) -> list[str]:
    """Fold one event (`recorded`, decoded as `event`; of the agreement or its jobcenter's
    figures, in position order) into `state`; the ids of the targets whose result it may
    change (`touches`, computed here unless given; none for a figure that left the measured
    series as they were: an earlier vintage, or a roll-up's month some member still lacks).
    The outcomes it computes on the way (of the targets at a close and of those an event after
    it touches) go into `outcomes`, so that a caller evaluating them next need not compute
    them again."""
    position = recorded.position
    touched = touches(state, event) if touched is None else touched
    state.events += 1
    found = {} if outcomes is None else outcomes
    with localcontext(CONTEXT):  # a roll-up sums
        if isinstance(event, FigureEvent):
            published, key, figure = published_figure(recorded, event)
            before = state.figures.get(key)
            put_jobcenter_figure(state, event.jobcenter_id, published, key, figure)
            if state.figures.get(key) is before:
                return []  # what the targets are measured on is unchanged
            if state.closed_at is None:
                return touched
        else:
            _apply(state, event)
        if isinstance(event, AgreementClosed) and state.closed_at is None:
            state.closed_at = position
            state.at_close = {tid: _signature(state, tid, found) for tid in state.targets}
        elif state.closed_at is not None and position > state.closed_at:
            for target_id in touched:
                signature = _signature(state, target_id, found)
                if signature != state.at_close.get(target_id):
                    state.revised.add(target_id)
                    state.at_close[target_id] = signature
    return touched


def touches(state: State, event: DomainEvent) -> list[str]:
    """The targets whose inputs `event` is about: a figure those of its series (for Y-1 and Y),
    a budget event those of its line, a (first) close every target."""
    if isinstance(event, TargetSet | TargetAmended | TargetWithdrawn | TargetPlanSet):
        return [event.target_id]
    if isinstance(event, BudgetAllocated | BudgetDeviationRecorded):
        return [tid for tid, t in state.targets.items() if t.budget_line == event.budget_line]
    if isinstance(event, FigureEvent):
        if event.year_month[0] not in (state.agreement.year - 1, state.agreement.year):
            return []
        if state.agreement.roll_up and event.jobcenter_id not in state.members:
            return []
        series = (event.indicator, event.breakdown)
        return [tid for tid, t in state.targets.items() if (t.indicator, t.breakdown) == series]
    if isinstance(event, AgreementClosed) and state.closed_at is None:
        return list(state.targets)
    if isinstance(event, AgreementMembersSet):
        return list(state.targets)
    return []


def evaluate(state: State, target_id: str, outcome: Outcome | None = None) -> Evaluation | None:
    """One target's result from the state (its `outcome` there, when already known); None when
    it is not active."""
    target = state.targets.get(target_id)
    if target is None:
        return None
    if outcome is None:
        with localcontext(CONTEXT):
            outcome = _outcome(target, state)
    return Evaluation(target, outcome, target_id in state.revised)


def target_result(state: State, target_id: str) -> TargetResult | None:
    """One target's answer row from the state; None when it is not active."""
    evaluation = evaluate(state, target_id)
    return None if evaluation is None else evaluation.result()


def agreement_result(state: State, position: int) -> AgreementAttainment:
    """Every active target's result, as known at `position`."""
    evaluations = [evaluate(state, target_id) for target_id in state.targets]
    return AgreementAttainment(
        agreement_id=state.agreement.agreement_id,
        jobcenter_id=state.agreement.jobcenter_id,
        level=state.agreement.level,
        land=state.agreement.land,
        year=state.agreement.year,
        position=position,
        targets=[evaluation.result() for evaluation in evaluations if evaluation],
    )


def fold(agreement_id: str, events: Iterable[RecordedEvent]) -> State | None:
    """The state after `events` (any streams, in position order); None if never concluded."""
    recorded = list(events)
    concluded = concluded_in(agreement_id, recorded)
    if concluded is None:
        return None
    state = new_state(concluded)
    jobcenters = candidates(concluded, recorded)
    for event in recorded:
        data = relevant(concluded, jobcenters, event)
        if data is not None:
            apply(state, event, data)
    return state


def attainment(agreement_id: str, events: Iterable[RecordedEvent]) -> AgreementAttainment | None:
    """The agreement's attainment from `events` (None if it was never concluded in them)."""
    recorded = list(events)
    state = fold(agreement_id, recorded)
    if state is None:
        return None
    return agreement_result(state, max((event.position for event in recorded), default=0))


def _apply(state: State, event: DomainEvent) -> None:
    """Change `state` by one event other than a figure."""
    if isinstance(event, TargetSet):
        state.targets[event.target_id] = event
        state.amended.pop(event.target_id, None)
        state.plans.pop(event.target_id, None)
    elif isinstance(event, TargetAmended) and event.effective_from.year == state.agreement.year:
        state.amended[event.target_id] = event.value
    elif isinstance(event, TargetPlanSet):
        state.plans[event.target_id] = event.plan
    elif isinstance(event, TargetWithdrawn):
        state.targets.pop(event.target_id, None)
    elif isinstance(event, BudgetAllocated):
        state.allocated[event.budget_line] = event.amount_eur
    elif isinstance(event, BudgetDeviationRecorded):
        line = event.budget_line
        state.deviations[line] = state.deviations.get(line, Decimal(0)) + event.amount_eur
    elif isinstance(event, AgreementMembersSet):
        set_members(state, event.jobcenter_ids)


def figure_entry(event: FigureEvent) -> tuple[FigureKey, Month]:
    """A figure publication as (indicator, breakdown, year, month) and the figure it gives."""
    year, month = event.year_month
    key = (event.indicator, event.breakdown, year, month)
    return key, Month(event.value, event.numerator, event.denominator)


Published = tuple[Vintage, FigureKey, Month]
"""A figure publication: its vintage, its key and the figure."""
_published: list[tuple[RecordedEvent, DomainEvent, Published]] = []
"""The last figure publication `published_figure` gave, with the event it came from."""


def published_figure(recorded: RecordedEvent, event: FigureEvent) -> Published:
    """A figure publication's vintage, key and figure. The last one is kept: the agreements an
    event reaches one after the other (its jobcenter's, the Land's and the federal one, of two
    years) share one key, vintage and `Month` (all immutable) instead of holding a copy each."""
    if _published and _published[0][0] is recorded and _published[0][1] is event:
        return _published[0][2]
    found = (vintage(recorded), *figure_entry(event))
    _published[:] = [(recorded, event, found)]
    return found


def put_figure(state: State, published: Vintage, key: FigureKey, figure: Month) -> None:
    """Keep the figure in force of a month of Y-1 or Y: the source's latest publication, so a
    report that arrives after its correction never overrides it (a figure event's whole
    effect; before the agreement has targets it is also how its jobcenter's earlier figures
    enter)."""
    if key[2] not in (state.agreement.year - 1, state.agreement.year):
        return
    if key not in state.figures or state.figures[key][0] <= published:
        state.figures[key] = (published, figure)


def put_jobcenter_figure(
    state: State, jobcenter_id: str, published: Vintage, key: FigureKey, figure: Month
) -> None:
    """Keep a figure of `jobcenter_id`: an agreement's own jobcenter's as `put_figure`; a
    roll-up's as that jobcenter's figure in force, its sum moved by the difference where it is
    a member (call within `CONTEXT`)."""
    if not state.agreement.roll_up:
        put_figure(state, published, key, figure)
        return
    if key[2] not in (state.agreement.year - 1, state.agreement.year):
        return
    figures = state.member_figures.setdefault(jobcenter_id, {})
    old = figures.get(key)
    if old is not None and old[0] > published:
        return
    figures[key] = (published, figure)
    if jobcenter_id in state.members:
        tally = state.tallies.setdefault(key, Tally())
        if old is not None:
            tally.take(old[1])
        tally.add(published, figure)
        _sum_month(state, key)


def set_members(state: State, jobcenter_ids: Iterable[str]) -> None:
    """A roll-up's new member list: its sums counted anew (call within `CONTEXT`)."""
    state.members = tuple(jobcenter_ids)
    count(state)


def count(state: State) -> None:
    """A roll-up's sums and summed series counted from its members' figures (after a new member
    list, or once its member figures are read back)."""
    state.tallies, state.figures = {}, {}
    for member in state.members:
        for key, (published, figure) in state.member_figures.get(member, {}).items():
            state.tallies.setdefault(key, Tally()).add(published, figure)
    for key in sorted(state.tallies):
        _sum_month(state, key)


@dataclass(slots=True)
class Tally:
    """The running sum of one month of a series over a roll-up's members that have it."""

    present: int = 0
    """Members with a figure."""
    fractions: int = 0
    """Of them, those giving a numerator and a denominator."""
    value: Decimal = Decimal(0)
    numerator: Decimal = Decimal(0)
    denominator: Decimal = Decimal(0)
    published: Vintage = (0, 0)
    """The latest vintage among them (a member's figure is only ever replaced by a later one)."""
    only: Month | None = None
    """The figure itself while one member has it (the sum of one is that figure)."""

    def add(self, published: Vintage, month: Month) -> None:
        """Count a member's figure in."""
        self._move(month, 1)
        self.published = max(self.published, published)

    def take(self, month: Month) -> None:
        """Count a member's figure out (it is being replaced)."""
        self._move(month, -1)

    def _move(self, month: Month, sign: int) -> None:
        self.present += sign
        self.value += sign * month.value
        self.only = month if sign > 0 and self.present == 1 else None
        if month.numerator is not None and month.denominator is not None:
            self.fractions += sign
            self.numerator += sign * month.numerator
            self.denominator += sign * month.denominator

    def month(self, indicator: str) -> Month | None:
        """The summed month (see `summed`)."""
        if self.present == 1 and self.only is not None:
            return self.only
        if self.fractions < self.present:
            known = known_indicator(indicator)
            if known is not None and known.aggregation not in ADDITIVE:
                return None
            return Month(self.value)
        if self.denominator == 0:
            return Month(Decimal(0), self.numerator, self.denominator)
        percent = self.numerator / self.denominator * HUNDRED
        value = percent - HUNDRED if indicator in LEVEL_CHANGES else percent
        return Month(value, self.numerator, self.denominator)


def _sum_month(state: State, key: FigureKey) -> None:
    """A roll-up's month of a series: the sum over its members, when every member has it."""
    tally = state.tallies.get(key)
    month = None
    if tally is not None and tally.present == len(state.members):
        month = tally.month(key[0])
    if month is None:
        state.figures.pop(key, None)
    else:
        state.figures[key] = (tally.published if tally else (0, 0), month)


def summed(indicator: str, months: list[Month]) -> Month | None:
    """Several jobcenters' figures of one month as one: where every one gives a numerator and a
    denominator, those added and the value taken from them (a percentage; for a key figure of
    levels the change in percent); else counts, stocks and amounts added, and a percentage
    without its parts gives no sum (None): never a sum or mean of percentages."""
    tally = Tally()
    for month in months:
        tally.add((0, 0), month)
    return tally.month(indicator)


def _signature(state: State, target_id: str, outcomes: dict[str, Outcome]) -> Signature | None:
    """The change-relevant part of a target's result, None when it is not active; its outcome
    goes into `outcomes`."""
    target = state.targets.get(target_id)
    if target is None:
        return None
    outcome = outcomes[target_id] = _outcome(target, state)
    return outcome.signature


def _series(state: State, target: TargetSet, year: int) -> dict[int, Month]:
    """Month -> figure in force of the target's series in `year`."""
    get, indicator, breakdown = state.figures.get, target.indicator, target.breakdown
    return {
        month: entry[1]
        for month in range(1, 13)
        if (entry := get((indicator, breakdown, year, month))) is not None
    }


def _target_value(target: TargetSet, state: State) -> Decimal:
    """The value in force: amended or set, scaled by the budget line's deviations."""
    value = state.amended.get(target.target_id, target.value)
    allocated = state.allocated.get(target.budget_line) if target.budget_line else None
    if not allocated:
        return value
    deviation = state.deviations.get(target.budget_line or "", Decimal(0))
    return value * (allocated + deviation) / allocated


def trajectory(state: State, target_id: str) -> list[Decimal | None]:
    """A target's actual as it stood at the end of each month, January to December, from the
    figures in force now (None after the last month reported; empty for a target that is not
    active): the line a report draws beside the plan path."""
    target = state.targets.get(target_id)
    if target is None:
        return []
    last = max(_series(state, target, state.agreement.year), default=0)
    with localcontext(CONTEXT):
        return [
            _outcome(target, state, through=month).actual if month <= last else None
            for month in range(1, 13)
        ]


def _outcome(target: TargetSet, state: State, through: int = 12) -> Outcome:
    """A target's numbers from the state (`projections.attainment.aggregations.judge`), from
    the months of the year up to `through`."""
    year = state.agreement.year
    reported = _series(state, target, year)
    return judge(
        Target(
            indicator=target.indicator,
            aggregation=target.aggregation,
            comparator=target.comparator,
            target_value=_target_value(target, state),
            year={month: figure for month, figure in reported.items() if month <= through},
            prior=_series(state, target, year - 1),
            plan=state.plans.get(target.target_id),
            closed=state.closed_at is not None,
        )
    )


def _result(target: TargetSet, outcome: Outcome, revised: bool) -> TargetResult:
    """The answer row of one active target."""
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
        revised_after_close=revised,
        plan_basis=outcome.plan_basis,
        plan_path=list(outcome.plan_path),
        baseline=outcome.baseline,
        target_level=outcome.target_level,
        actual_level=outcome.actual_level,
    )
