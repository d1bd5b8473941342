"""Replaying what an agreement's result depends on, as known at a position: for the as-of API
and the audit commands. The result itself is `projections.attainment.attainment`."""

from datetime import datetime

from events.store import EventStore, RecordedEvent
from projections.attainment import AgreementAttainment, attainment
from projections.results import TargetChange, walk


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
