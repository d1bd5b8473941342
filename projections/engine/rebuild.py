"""How a projection's fresh tables are filled for a rebuild: one protocol, two ways to meet it.

A `Rebuild` splits the log into stages of shares: the shares of a stage fold independently of
each other (each may run in a worker process of its own, `projections.engine.workers`), a stage
starts once the one before it is written. A share is read in parts (each a list of events in
position order, with how far the share got) and each part is written into the fresh tables in
one transaction. `Pages` is one share: windows of positions applied through the projection's own
`apply` (nothing written twice); `Groups` splits groups of streams whose events fold
independently of the other groups' (say, one jobcenter's) into shares of whole groups, reads a
few groups at a time, folds each part in memory and writes its rows by COPY.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.log import RecordedEvent
from events.store import EventStore, Group

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
Tables = Mapping[str, str]
"""A projection's table names -> the qualified names to write (live or fresh)."""
Rows = Mapping[str, Sequence[tuple[object, ...]]]
"""A projection's table names -> records to add, in column order."""
Part = tuple[list[RecordedEvent], int]
"""Events in position order, and how far the share got with them (of the head it builds to)."""


@dataclass(frozen=True)
class Share:
    """What one worker folds of a stage: whole groups of streams, or (none given) everything the
    rebuild reads in that stage. Sent to worker processes, so plain data."""

    groups: tuple[Group, ...] = ()

    @property
    def events(self) -> int:
        """The events its groups hold (0 for everything)."""
        return sum(count for _, count in self.groups)


EVERYTHING = Share()
SHARE_EVENTS = 5_000
"""The fewest events a share of groups is dealt (smaller stages fold in fewer shares, down to
one: in the rebuilding process)."""
Stages = list[list[Share]]
"""Stages in the order to write them, each a list of shares that fold independently."""


class Rebuild(Protocol):
    """Fills a projection's fresh tables from the log up to a position."""

    async def stages(self, store: EventStore, until: int, shares: int) -> Stages:
        """The stages of the log up to `until`, each split into at most `shares` shares."""

    def parts(self, store: EventStore, until: int, share: Share) -> AsyncIterator[Part]:
        """One share of the log up to `until` as the parts to write, in the order to write
        them."""

    async def write(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        """Write one part into `tables` (inside the transaction the caller holds)."""


class Applying(Protocol):
    """What `Pages` needs of a projection: the types it reads and its `apply`."""

    @property
    def types(self) -> Collection[str] | None:
        """The event types it consumes (None: all)."""

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        """Apply `events` (in position order) to `tables`."""


class Pages:
    """A rebuild through the projection's own `apply`, a window of positions at a time."""

    def __init__(self, projection: Applying) -> None:
        self.projection = projection

    async def stages(self, store: EventStore, until: int, shares: int) -> Stages:
        return [[EVERYTHING]]

    async def parts(self, store: EventStore, until: int, share: Share) -> AsyncIterator[Part]:
        async for events, reached in store.windows(self.projection.types, 0, until):
            yield events, reached

    async def write(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        await self.projection.apply(connection, events, tables)


@dataclass(frozen=True)
class Groups:
    """A rebuild that folds independent groups of streams in memory, a few at a time, and
    writes their rows by COPY: memory holds a few groups' state, not the whole log's. One stage,
    its groups dealt into shares of about equal events."""

    types: Collection[str]
    """The event types it reads."""
    grouping: Callable[[EventStore, int], Awaitable[list[Group]]]
    """The groups of streams holding every event up to a position it reads."""
    fold: Callable[[Sequence[RecordedEvent]], Rows]
    """Every row of the groups whose events (in position order) it is given."""
    fields: Mapping[str, Collection[str]] = field(default_factory=dict)
    """Only events whose data field has one of these values (others are not read at all)."""

    async def stages(self, store: EventStore, until: int, shares: int) -> Stages:
        return [deal(await self.grouping(store, until), shares)]

    async def parts(self, store: EventStore, until: int, share: Share) -> AsyncIterator[Part]:
        done = 0
        async for events in store.read_groups(self.types, share.groups, until, self.fields):
            done += len(events)
            yield events, min(done, until)

    async def write(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        await copy(connection, tables, self.fold(events))


@dataclass(frozen=True)
class GroupedBy:
    """A `Groups.grouping`: streams holding events of `types` whose data field `key` shares a
    value are one group (say, a jobcenter's figure streams by `jobcenter_id`)."""

    types: Collection[str]
    key: str

    async def __call__(self, store: EventStore, until: int) -> list[Group]:
        return join_groups(*await store.stream_keys(until, self.types, self.key))


def deal(groups: Sequence[Group], shares: int) -> list[Share]:
    """`groups` in at most `shares` shares of about equal events (none smaller than about
    `SHARE_EVENTS`, as a worker costs a start), the largest groups dealt first, each to the
    share holding the fewest events so far."""
    events = sum(count for _, count in groups)
    dealt: list[list[Group]] = [[] for _ in range(max(1, min(shares, events // SHARE_EVENTS)))]
    sizes = [0] * len(dealt)
    for group in sorted(groups, key=lambda group: -group[1]):
        least = sizes.index(min(sizes))
        dealt[least].append(group)
        sizes[least] += group[1]
    return [Share(tuple(sorted(share))) for share in dealt if share]


async def copy(connection: Connection, tables: Tables, rows: Rows) -> None:
    """COPY each table's records into its qualified table."""
    for table, records in rows.items():
        if records:
            schema, _, name = tables[table].partition(".")
            await connection.copy_records_to_table(name, schema_name=schema, records=records)


def columns(rows: Sequence[tuple[object, ...]]) -> list[list[object]]:
    """Rows as one list per column, for `unnest`."""
    return [list(column) for column in zip(*rows, strict=True)]


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
