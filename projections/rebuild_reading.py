"""How a rebuild reads the log: windows of positions, read ahead, each stored event decoded once
and trusted.

Invariants: a rebuild sees exactly the events `EventStore.read_all` would give it (the
projection's types, in position order, up to the head it names), read as windows of at most
`WINDOW` positions, so every query touches a bounded part of the table whatever plan the
database picks (a `LIMIT` page over the type index sorted everything after it, each page, on a
freshly loaded store whose statistics were not yet gathered). The next window is read while the
current one is folded. Stored rows and figure data were validated when they were appended, so
they are taken as they are (`trusted_record`, `trusted_figure`); a figure of an older schema
version goes through the catalogue, which upcasts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from events.catalogue import (
    CATALOGUE,
    FIGURE_TYPES,
    FigureEvent,
    MonthlyFigureCorrected,
    MonthlyFigureReported,
)
from events.store import SELECT_EVENTS, RecordedEvent

WINDOW = 25_000
"""Positions per read: about 20 MB of rows at most."""
SELECT_WINDOW = f"{SELECT_EVENTS} WHERE position > $1 AND position <= $2 ORDER BY position"
SELECT_WINDOW_OF_TYPES = (
    f"{SELECT_EVENTS} WHERE position > $1 AND position <= $2 AND type = ANY($3::text[])"
    " ORDER BY position"
)
RECORD_FIELDS = frozenset(RecordedEvent.model_fields)
FIGURE_MODELS: dict[str, type[FigureEvent]] = {
    model.event_type: model for model in (MonthlyFigureReported, MonthlyFigureCorrected)
}
NUMBERS = ("value", "numerator", "denominator")


def trusted_record(row: asyncpg.Record, fields: frozenset[str] = RECORD_FIELDS) -> RecordedEvent:
    """A stored row as a `RecordedEvent`, without validation (as `record_from_row`, cheaper);
    `fields` names the columns the row holds."""
    event = RecordedEvent.__new__(RecordedEvent)
    object.__setattr__(event, "__dict__", dict(row))
    object.__setattr__(event, "__pydantic_fields_set__", fields)
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def _number(value: Any) -> Decimal | None:
    """A JSON number as the catalogue's validation makes it (an int, or a float by its repr)."""
    return None if value is None else Decimal(str(value))


def trusted_figure(recorded: RecordedEvent) -> FigureEvent:
    """The typed data of a stored figure event, equal to `CATALOGUE.decode`'s, without
    validating it again (an older schema version is upcast by the catalogue)."""
    model = FIGURE_MODELS[recorded.type]
    if recorded.schema_version != CATALOGUE.latest_version(recorded.type):
        figure = CATALOGUE.decode(recorded.type, recorded.schema_version, recorded.data)
        assert isinstance(figure, FigureEvent)  # FIGURE_TYPES decode to figure events
        return figure
    data: Mapping[str, Any] = recorded.data
    fields = {name: data[name] for name in data if name not in NUMBERS}
    for name in NUMBERS:
        if name in data:
            fields[name] = _number(data[name])
    return model.model_construct(**fields)


def is_figure(recorded: RecordedEvent) -> bool:
    """Whether the event publishes a monthly figure."""
    return recorded.type in FIGURE_TYPES


async def windows(
    pool: asyncpg.Pool,
    types: Collection[str] | None,
    after: int,
    until: int,
    size: int = WINDOW,
) -> AsyncIterator[tuple[list[RecordedEvent], int]]:
    """The events of `types` (None: all) in (after, until], a window at a time, each with the
    position it covers; the next window is read while the caller works on this one."""
    query, extra = (
        (SELECT_WINDOW, ()) if types is None else (SELECT_WINDOW_OF_TYPES, (sorted(types),))
    )

    async def read(start: int, end: int) -> list[RecordedEvent]:
        rows = await pool.fetch(query, start, end, *extra)
        return [trusted_record(row) for row in rows]

    end = min(after + size, until)
    pending = asyncio.ensure_future(read(after, end)) if after < until else None
    while pending is not None:
        page, reached = await pending, end
        pending = None
        if reached < until:
            end = min(reached + size, until)
            pending = asyncio.ensure_future(read(reached, end))
        try:
            yield page, reached
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise


LOADED_COLUMNS = (
    "position", "event_id", "stream_id", "type", "schema_version", "occurred_at", "recorded_at",
    "data",
)  # fmt: skip
"""What a partitioned loader reads of an event (the others are left unset)."""
SELECT_STREAMS_OF_TYPES = f"""
SELECT {", ".join(LOADED_COLUMNS)}
FROM store.events
WHERE stream_id = ANY($1::text[]) AND position <= $2 AND type = ANY($3::text[])
ORDER BY position
"""
LOADED = frozenset(LOADED_COLUMNS)
STREAMS_PER_READ = 24
"""Streams per read of a partitioned rebuild (a figure stream holds ~220 events a year)."""


async def by_streams(
    pool: asyncpg.Pool,
    types: Collection[str],
    groups: Sequence[Sequence[str]],
    until: int,
    size: int = STREAMS_PER_READ,
) -> AsyncIterator[list[RecordedEvent]]:
    """The events of `types` up to `until` of whole groups of streams, several groups at a time
    (at least one, about `size` streams), each read in position order; the next read runs while
    the caller works on this one."""
    chunks: list[list[str]] = [[]]
    for group in groups:
        if chunks[-1] and len(chunks[-1]) + len(group) > size:
            chunks.append([])
        chunks[-1].extend(group)
    kinds = sorted(types)

    async def read(streams: list[str]) -> list[RecordedEvent]:
        rows = await pool.fetch(SELECT_STREAMS_OF_TYPES, streams, until, kinds)
        return [trusted_record(row, LOADED) for row in rows]

    todo = [chunk for chunk in chunks if chunk]
    pending = asyncio.ensure_future(read(todo[0])) if todo else None
    for index in range(len(todo)):
        assert pending is not None
        page = await pending
        pending = asyncio.ensure_future(read(todo[index + 1])) if index + 1 < len(todo) else None
        try:
            yield page
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
