"""What an attainment report holds (docs/reports.md): an agreement's, computed from the log up to
one position by the fold the as-of attainment answer uses, or a portfolio's, from the rows of
`GET /attainment`. Renderers (`services.reports.pdf`, `services.reports.xlsx`) only lay these
out; every number in a file is one of these, presented as the API presents it (2 decimals)."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from events.anchor import event_at
from events.catalogue import (
    FIGURE_TYPES,
    AgreementClosed,
    AgreementMembersSet,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DialogHeld,
    DomainEvent,
    FigureEvent,
    JobcenterRegistered,
    MonthlyFigureCorrected,
    QualitativeGoalSet,
)
from events.envelope import Number
from events.log import RecordedEvent, Selection, agreement_stream, jobcenter_stream
from events.numbers import Presented
from events.store import EventStore
from projections.attainment.answers import PortfolioRow, TargetResult
from projections.attainment.calculation import agreement_result, fold, trajectory
from projections.attainment.inputs import decode
from services.replay import agreement_events


class Provenance(BaseModel):
    """Where a report's numbers come from: the log up to `position`, whose event there has
    `hash` (the chain's head the report was computed from), and the reading asked for."""

    position: int
    hash: str
    recorded_at: datetime
    as_of: datetime | None = None
    as_published: datetime | None = None
    since: datetime | None = None


class TypePosition(BaseModel):
    """A key-figure target's jobcenter against its comparison type: the latest month of the
    agreement's year that `GET /key-figures?compare=type` answers, as that view knows it at
    `position`."""

    period: str
    value: Number
    type_code: str
    type_name: str
    typology: str
    typology_version: str
    jobcenters: int
    minimum: Presented
    lower_quartile: Presented
    median: Presented
    upper_quartile: Presented
    maximum: Presented
    rank: int | None
    better: str | None
    position: int


class TargetLine(BaseModel):
    """One target: its attainment answer row and its actual at the end of each month."""

    result: TargetResult
    trajectory: list[Presented | None]
    """January to December, None after the last month reported (`plan_path` is the plan)."""
    comparison: TypePosition | None = None
    """Key-figure targets: where the jobcenter stands in its comparison type."""


class GoalLine(BaseModel):
    """A qualitative goal with the Land's support."""

    goal_id: str
    section: str
    text: str
    state_support: list[str]


class DeviationLine(BaseModel):
    """An in-year change of a budget line."""

    period: str
    amount_eur: Number
    reason: str


class BudgetLine(BaseModel):
    """A budget line: allocated, its deviations, the current amount (their sum)."""

    budget_line: str
    allocated: Number
    measures: list[str]
    deviations: list[DeviationLine]
    current: Number


class DialogLine(BaseModel):
    """A target dialogue held."""

    held_on: date
    summary: str


class CorrectionLine(BaseModel):
    """A correction of a monthly figure of a target's series: the vintage before and after."""

    jobcenter_id: str
    indicator: str
    breakdown: str
    period: str
    previous: Number | None
    value: Number
    reason: str
    published_at: datetime
    position: int


class AgreementReport(BaseModel):
    """The attainment report of one agreement as known at `provenance.position`."""

    agreement_id: str
    title: str | None
    level: str
    jobcenter_id: str | None
    """None for a Land's or the federal agreement (`level` land or federal)."""
    jobcenter_name: str | None
    members: list[str]
    """A Land's or the federal agreement's member jobcenters (the latest list set)."""
    land: str | None
    year: int
    parties: list[str]
    signed_on: date | None
    status: str
    closed_on: date | None
    targets: list[TargetLine]
    goals: list[GoalLine]
    budget_lines: list[BudgetLine]
    dialogs: list[DialogLine]
    corrections: list[CorrectionLine]
    provenance: Provenance


class PortfolioReport(BaseModel):
    """The attainment of every target of the agreements of a Land (or Germany's, `land` None)
    as `GET /attainment` answers it at `provenance.position`."""

    land: str | None
    year: int | None
    rows: list[PortfolioRow]
    provenance: Provenance


async def provenance_at(
    store: EventStore,
    position: int,
    *,
    as_of: datetime | None = None,
    as_published: datetime | None = None,
    since: datetime | None = None,
) -> Provenance | None:
    """The log's head at `position` (its event's hash and record time) and the reading asked
    for; None for an empty log."""
    head = await event_at(store, position)
    if head is None:
        return None
    return Provenance(
        position=position, hash=head.hash, recorded_at=head.recorded_at, as_of=as_of,
        as_published=as_published, since=since,
    )  # fmt: skip


async def agreement_report(
    store: EventStore,
    agreement_id: str,
    position: int,
    *,
    as_of: datetime | None = None,
    as_published: datetime | None = None,
    since: datetime | None = None,
) -> AgreementReport | None:
    """The agreement's report from the events recorded up to `position` (and, with
    `as_published`, published by then), the corrections from those published at or after
    `since`; None when it was not concluded in them (or is a Land's or the federal one, whose
    roll-up is not measured yet). Its attainment is the fold of
    `services.replay.attainment_at` / `attainment_published` over the same events."""
    events = await agreement_events(store, agreement_id, position)
    if events is None:
        return None
    if as_published is not None:
        events = [event for event in events if event.occurred_at <= as_published]
    state = fold(agreement_id, events)
    provenance = await provenance_at(
        store, position, as_of=as_of, as_published=as_published, since=since
    )
    if state is None or provenance is None:
        return None
    answer = agreement_result(state, position)
    concluded = state.agreement
    jobcenter_id = concluded.jobcenter_id  # None for a Land's or the federal agreement
    registered = None
    if jobcenter_id is not None:
        registered = await _registration(store, jobcenter_id, position)
    own = [decode(e) for e in events if e.stream_id == agreement_stream(agreement_id)]
    series = {(t.indicator, t.breakdown) for t in answer.targets}
    closed = [event for event in own if isinstance(event, AgreementClosed)]
    return AgreementReport(
        agreement_id=agreement_id, title=concluded.title, level=concluded.level,
        jobcenter_id=jobcenter_id, members=_members(own),
        jobcenter_name=None if registered is None else registered.name,
        land=concluded.land if registered is None else registered.land, year=concluded.year,
        parties=list(concluded.parties), signed_on=concluded.signed_on,
        status="closed" if closed else "open", closed_on=closed[0].closed_on if closed else None,
        targets=[
            TargetLine(result=result, trajectory=trajectory(state, result.target_id))
            for result in answer.targets
        ],
        goals=_goals(own), budget_lines=_budget_lines(own), dialogs=_dialogs(own),
        corrections=_corrections(events, series, since),
        provenance=provenance,
    )  # fmt: skip


async def _registration(
    store: EventStore, jobcenter_id: str, position: int
) -> JobcenterRegistered | None:
    """The jobcenter's latest registration recorded up to `position`."""
    selection = Selection(
        stream=jobcenter_stream(jobcenter_id), types={"JobcenterRegistered"}, until=position
    )
    found = [decode(event) for event in await store.select(store.pool, selection)]
    registrations = [event for event in found if isinstance(event, JobcenterRegistered)]
    return registrations[-1] if registrations else None


def _members(own: list[DomainEvent]) -> list[str]:
    """The latest member list set (none for a jobcenter's agreement)."""
    lists = [list(e.jobcenter_ids) for e in own if isinstance(e, AgreementMembersSet)]
    return lists[-1] if lists else []


def _goals(own: list[DomainEvent]) -> list[GoalLine]:
    """The goals in the order of their latest setting (as `GET /agreements/{id}` orders them)."""
    goals: dict[str, GoalLine] = {}
    for event in own:
        if isinstance(event, QualitativeGoalSet):
            goals.pop(event.goal_id, None)
            goals[event.goal_id] = GoalLine(
                goal_id=event.goal_id, section=event.section, text=event.text,
                state_support=list(event.state_support),
            )  # fmt: skip
    return list(goals.values())


def _budget_lines(own: list[DomainEvent]) -> list[BudgetLine]:
    """Every allocated line with its deviations (a deviation of a line not allocated yet is not
    one of it, as in `GET /agreements/{id}`), in the order of their latest change."""
    lines: dict[str, BudgetLine] = {}
    for event in own:
        if isinstance(event, BudgetAllocated):
            line = lines.pop(event.budget_line, None)
            deviations = [] if line is None else line.deviations
            moved = sum((d.amount_eur for d in deviations), Decimal(0))
            lines[event.budget_line] = BudgetLine(
                budget_line=event.budget_line, allocated=event.amount_eur,
                measures=list(event.measures), deviations=deviations,
                current=event.amount_eur + moved,
            )  # fmt: skip
        elif isinstance(event, BudgetDeviationRecorded) and event.budget_line in lines:
            line = lines.pop(event.budget_line)
            deviation = DeviationLine(
                period=event.period, amount_eur=event.amount_eur, reason=event.reason
            )
            lines[event.budget_line] = line.model_copy(
                update={"deviations": [*line.deviations, deviation],
                        "current": line.current + event.amount_eur}
            )  # fmt: skip
    return list(lines.values())


def _dialogs(own: list[DomainEvent]) -> list[DialogLine]:
    """The dialogues held, in record order."""
    return [
        DialogLine(held_on=event.held_on, summary=event.summary)
        for event in own
        if isinstance(event, DialogHeld)
    ]


def _corrections(
    events: list[RecordedEvent], series: set[tuple[str, str]], since: datetime | None
) -> list[CorrectionLine]:
    """The corrections of the targets' series published at or after `since`, each with the
    vintage it replaced (the one in force before it by publication order)."""
    figures = sorted(
        (event for event in events if event.type in FIGURE_TYPES),
        key=lambda event: (event.occurred_at, event.position),
    )
    in_force: dict[tuple[str, str, str, str], Decimal] = {}
    corrections = []
    for recorded in figures:
        figure = decode(recorded)
        assert isinstance(figure, FigureEvent)  # selected by type
        key = (figure.jobcenter_id, figure.indicator, figure.breakdown, figure.period)
        if (
            isinstance(figure, MonthlyFigureCorrected)
            and key[1:3] in series
            and (since is None or recorded.occurred_at >= since)
        ):
            corrections.append(
                CorrectionLine(
                    jobcenter_id=figure.jobcenter_id, indicator=figure.indicator,
                    breakdown=figure.breakdown, period=figure.period,
                    previous=in_force.get(key), value=figure.value, reason=figure.reason,
                    published_at=recorded.occurred_at, position=recorded.position,
                )
            )  # fmt: skip
        in_force[key] = figure.value
    return sorted(corrections, key=lambda c: (c.period, c.jobcenter_id, c.indicator, c.position))
