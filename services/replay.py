"""Replaying what an agreement's result depends on, as known at a position (record time) and
as published at a time (the envelopes' `occurred_at`): for the as-of and as-published API and
the audit commands. The result itself is `projections.attainment.calculation.attainment`."""

from dataclasses import replace
from datetime import datetime

from events.store import EventStore, RecordedEvent
from projections.attainment.answers import AgreementAttainment
from projections.attainment.calculation import attainment
from projections.attainment.results import TargetChange, walk
from projections.figures.calculation import Amounts, FigureRow, figure_row, flags_by_key


async def agreement_events(
    store: EventStore, agreement_id: str, position: int
) -> list[RecordedEvent] | None:
    """The agreement's events and its jobcenter's figures for its year and the year before,
    recorded at or before `position`, in order; None if it was not concluded by then."""
    own = [
        e for e in await store.read_stream(f"agreement-{agreement_id}") if e.position <= position
    ]
    concluded = next((e for e in own if e.type == "AgreementConcluded"), None)
    if concluded is None:
        return None
    years = {str(concluded.data["year"] - 1), str(concluded.data["year"])}
    figures = [
        e
        for e in await store.read_stream(f"figures-{concluded.data['jobcenter_id']}")
        if e.position <= position and e.data["period"][:4] in years
    ]
    return sorted([*own, *figures], key=lambda event: event.position)


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
    found = await store.figures_published(
        position, published, jobcenter_id=jobcenter_id, indicator=indicator, year=year,
        jobcenters=jobcenters,
    )  # fmt: skip
    rows = {}
    for event, publications in found:
        row = replace(figure_row(event), publications=publications)
        rows[(row.jobcenter_id, row.indicator, row.breakdown, row.period)] = row
    flags = flags_by_key(
        (key, Amounts(row.value, row.numerator, row.denominator)) for key, row in rows.items()
    )
    return [(rows[key], flags[key]) for key in sorted(rows)]
