"""Reading the log for one agreement or figure, as known at a position (record time) and as
published at a time (the envelopes' `occurred_at`): for the as-of, as-published, history and
vintages API and the audit commands. The events an agreement's result depends on are
`projections.attainment.inputs`'s; the result itself is
`projections.attainment.calculation.attainment` (for the query API folded on from the
agreement's nearest snapshot, `projections.attainment.snapshots`). Every read of the log goes
through the store's generic `select`."""

from dataclasses import replace
from datetime import datetime

from events.catalogue import FIGURE_TYPES
from events.log import RecordedEvent, Selection, figures_stream
from events.store import EventStore, Reader
from projections.attainment.answers import AgreementAttainment
from projections.attainment.calculation import agreement_result, apply, attainment
from projections.attainment.inputs import (
    candidates,
    concluded_in,
    figure_inputs,
    own_events,
    relevant,
)
from projections.attainment.projection import ATTAINMENT
from projections.attainment.results import TargetChange, walk
from projections.attainment.snapshots import nearest_snapshot
from projections.figures.calculation import Amounts, FigureRow, flags_by_key, fold_figures

FigureKey = tuple[str, str, str, str]
"""(jobcenter_id, indicator, breakdown, period)."""


async def agreement_events(
    store: EventStore, agreement_id: str, position: int
) -> list[RecordedEvent] | None:
    """The events the agreement's result depends on (its own, its jobcenters' figures for its
    year and the year before), recorded at or before `position`, in order; None if it was not
    concluded by then."""
    own = await store.select(store.pool, own_events(agreement_id, position))
    concluded = concluded_in(agreement_id, own)
    if concluded is None:
        return None
    figures = []
    for selection in figure_inputs(candidates(concluded, own), concluded.year, position):
        figures += await store.select(store.pool, selection)
    return sorted([*own, *figures], key=lambda event: event.position)


async def agreement_history(
    reader: Reader, agreement_id: str, until: int, limit: int, offset: int
) -> tuple[list[RecordedEvent], int] | None:
    """A page of the agreement's events and its jobcenter's figures for its year (a Land or
    federal agreement: its own events only; its members' figures are theirs), up to position
    `until`, with the total count (0 past the last page); None if it was not concluded by
    then."""
    own = await EventStore.select(reader, own_events(agreement_id, until))
    concluded = concluded_in(agreement_id, own)
    if concluded is None:
        return None
    figures = []
    if concluded.jobcenter_id is not None:
        of_year = Selection(
            stream=figures_stream(concluded.jobcenter_id),
            until=until,
            prefixes={"period": [f"{concluded.year:04d}"]},
        )
        figures = await EventStore.select(reader, of_year)
    events = sorted([*own, *figures], key=_position)
    page = events[offset : offset + limit]
    return page, len(events) if page else 0


async def figure_vintages(
    reader: Reader, key: FigureKey, until: int, limit: int, offset: int
) -> tuple[list[RecordedEvent], int]:
    """A page of every publication (vintage) of one monthly figure recorded up to position
    `until`, in publication order (`occurred_at`, then position: the last one is in force),
    with their total count (0 past the last page)."""
    jobcenter_id, indicator, breakdown, period = key
    selection = Selection(
        stream=figures_stream(jobcenter_id),
        types=FIGURE_TYPES,
        until=until,
        fields={"indicator": [indicator], "breakdown": [breakdown], "period": [period]},
        prefixes={"period": [period[:4]]},  # found by stream and year through the period index
    )
    found = await EventStore.select(reader, selection)
    events = sorted(found, key=lambda event: (event.occurred_at, event.position))
    page = events[offset : offset + limit]
    return page, len(events) if page else 0


def _position(event: RecordedEvent) -> int:
    return event.position


async def position_of(store: EventStore, moment: datetime | None, position: int | None) -> int:
    """The position "as known at" a moment or a position (default: now)."""
    if position is not None:
        return min(position, await store.last_position())
    if moment is not None:
        return await store.position_at(moment)
    return await store.last_position()


async def attainment_at(
    store: EventStore, agreement_id: str, position: int
) -> AgreementAttainment | None:
    """The agreement's attainment as it was known at `position`."""
    events = await agreement_events(store, agreement_id, position)
    return None if events is None else attainment(agreement_id, events)


async def attainment_from_snapshot(
    store: EventStore, agreement_id: str, position: int
) -> AgreementAttainment | None:
    """The same answer as `attainment_at`, folded from the agreement's nearest kept state at or
    before `position` (`projections.attainment.snapshots`) through the events recorded after
    it; from the start when none is kept, and always for a Land or federal agreement (its kept
    states lack the member figures a later member list may bring in). For the query API;
    `zs audit` folds the log whole."""
    kept = await nearest_snapshot(store.pool, agreement_id, position, ATTAINMENT.version)
    jobcenter_id = None if kept is None else kept[1].agreement.jobcenter_id
    if kept is None or jobcenter_id is None:
        return await attainment_at(store, agreement_id, position)
    at, state = kept
    agreement, jobcenters = state.agreement, frozenset({jobcenter_id})
    own = replace(own_events(agreement_id, position), after=at)
    [of_jobcenter] = figure_inputs(jobcenters, agreement.year, position)
    figures = replace(of_jobcenter, after=at)
    events = sorted([*await store.select(store.pool, own),
                     *await store.select(store.pool, figures)], key=_position)  # fmt: skip
    for event in events:
        data = relevant(agreement, jobcenters, event)
        if data is not None:
            apply(state, event, data)
    return agreement_result(state, max([at, *(event.position for event in events)]))


async def explain(
    store: EventStore, agreement_id: str, start: int, end: int
) -> list[TargetChange] | None:
    """Every change of a target's result made by the events after `start` up to `end`."""
    events = await agreement_events(store, agreement_id, end)
    return None if events is None else walk(agreement_id, events, after=start)[1]


async def attainment_published(
    store: EventStore, agreement_id: str, position: int, published: datetime
) -> AgreementAttainment | None:
    """The agreement's attainment "as published at" `published`: the one calculation over its
    events recorded up to `position` whose envelope `occurred_at` is at or before `published`
    (publication time, not record time: not a prefix of the log); None if it was not
    concluded by then."""
    events = await agreement_events(store, agreement_id, position)
    if events is None:
        return None
    result = attainment(agreement_id, [e for e in events if e.occurred_at <= published])
    return None if result is None else result.model_copy(update={"position": position})


async def figures_published(
    store: EventStore,
    position: int,
    published: datetime,
    *,
    jobcenter_id: str | None = None,
    indicator: str | None = None,
    year: int | None = None,
    jobcenters: list[str] | None = None,
) -> list[tuple[FigureRow, list[str]]]:
    """The monthly figures "as published at" `published` (among the events recorded up to
    `position`), each with its flags, in (jobcenter, indicator, breakdown, period) order:
    the rows `GET /figures` would show had the log held only what was published by then."""
    selection = Selection(
        stream=None if jobcenter_id is None else figures_stream(jobcenter_id),
        types=FIGURE_TYPES,
        until=position,
        published_by=published,
        fields={
            **({} if indicator is None else {"indicator": [indicator]}),
            **({} if jobcenters is None else {"jobcenter_id": jobcenters}),
        },
        prefixes={} if year is None else {"period": [f"{year:04d}"]},
    )
    rows = {
        (row.jobcenter_id, row.indicator, row.breakdown, row.period): row
        for row in fold_figures(await EventStore.select(store.pool, selection))
    }
    flags = flags_by_key(
        (key, Amounts(row.value, row.numerator, row.denominator, row.occurred_at))
        for key, row in rows.items()
    )
    return [(rows[key], flags[key]) for key in sorted(rows)]
