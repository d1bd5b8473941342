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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

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
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
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
  AND ({{condition}})
ORDER BY position
"""
LOADED = frozenset(LOADED_COLUMNS)
EVENTS_PER_READ = 10_000
"""About how many events a partitioned rebuild reads at a time (whole groups of streams)."""


async def by_streams(
    pool: asyncpg.Pool,
    types: Collection[str],
    groups: Sequence[Group],
    until: int,
    size: int = EVENTS_PER_READ,
    condition: str = "true",
) -> AsyncIterator[list[RecordedEvent]]:
    """The events of `types` up to `until` of whole groups of streams, several groups at a time
    (at least one, about `size` events), each read in position order; the next read runs while
    the caller works on this one; only those meeting the SQL `condition`, a constant."""
    chunks: list[list[str]] = [[]]
    events = 0
    for streams, count in groups:
        if chunks[-1] and events + count > size:
            chunks.append([])
            events = 0
        chunks[-1].extend(streams)
        events += count
    kinds = sorted(types)
    query = SELECT_STREAMS_OF_TYPES.format(condition=condition)

    async def read(streams: list[str]) -> list[RecordedEvent]:
        rows = await pool.fetch(query, streams, until, kinds)
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


SELECT_STREAM_KEYS = """
SELECT stream_id, data->>$3 AS key, count(*) AS events
FROM store.events
WHERE position <= $1 AND type = ANY($2::text[])
GROUP BY stream_id, key
"""
Group = tuple[list[str], int]
"""Streams whose events fold together, and how many events of the types asked they hold."""


@dataclass(frozen=True)
class Streams:
    """The streams holding events of some types, each with the keys its data names."""

    keys: dict[str, list[str]]
    """Stream id -> the distinct values of the data's field among its events."""
    sizes: dict[str, int]
    """Stream id -> how many events of the types it holds."""


async def stream_keys(
    connection: Connection, until: int, types: Collection[str], field: str
) -> Streams:
    """The streams with events of `types` up to `until`, with the values of the data's `field`
    (a figure stream holds one jobcenter's figures; nothing here relies on it)."""
    found = Streams({}, {})
    for row in await connection.fetch(SELECT_STREAM_KEYS, until, sorted(types), field):
        stream = row["stream_id"]
        found.keys.setdefault(stream, []).append(row["key"])
        found.sizes[stream] = found.sizes.get(stream, 0) + int(row["events"])
    return found


def join_groups(keys: Mapping[str, Sequence[str]], sizes: Mapping[str, int]) -> list[Group]:
    """Streams -> groups of streams: two streams sharing a key are in one group (so every
    event about a key is in the group of that key), each group's streams sorted, with the
    number of events they hold."""
    owner: dict[str, str] = {}
    parent: dict[str, str] = {}

    def root(stream: str) -> str:
        while parent[stream] != stream:
            parent[stream] = parent[parent[stream]]
            stream = parent[stream]
        return stream

    for stream, found in sorted(keys.items()):
        parent[stream] = stream
        for key in found:
            if key in owner:
                parent[root(stream)] = root(owner[key])
            else:
                owner[key] = stream
    groups: dict[str, list[str]] = {}
    for stream in parent:
        groups.setdefault(root(stream), []).append(stream)
    return sorted((sorted(group), sum(sizes[s] for s in group)) for group in groups.values())
