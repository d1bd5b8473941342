"""The projector runner: applies recorded events to projections, exactly once in effect.

Invariants: each projection advances in transactions that hold its checkpoint row lock and
commit the read-model change together with the new checkpoint; an event at or below the
checkpoint is skipped; positions are applied in order and without a gap (a gap is read from the
store). A rebuild fills fresh tables in schema `views_rebuild`, then, under the same checkpoint
lock, brings them level with the live checkpoint and moves them into `views` in one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from events.store import EventStore, RecordedEvent

LIVE_SCHEMA = "views"
FRESH_SCHEMA = "views_rebuild"
REBUILD_LOCK_CLASS = 0x5A53_5242  # "ZSRB": one rebuild per projection at a time
CREATE_LOCK_KEY = 0x5A53_5443  # "ZSTC": one process creates missing projection tables
SWAP_BACKLOG = 1000
"""A rebuild swaps once at most this many events are left to apply under the lock."""

ENSURE_CHECKPOINT = (
    "INSERT INTO service.checkpoints (projection) VALUES ($1) ON CONFLICT (projection) DO NOTHING"
)
LOCK_CHECKPOINT = "SELECT position FROM service.checkpoints WHERE projection = $1 FOR UPDATE"
SET_CHECKPOINT = (
    "UPDATE service.checkpoints SET position = $2, updated_at = now() WHERE projection = $1"
)
SELECT_CHECKPOINT = (
    "SELECT coalesce(max(position), 0) FROM service.checkpoints WHERE projection = $1"
)
LOCK_CREATE = "SELECT pg_advisory_xact_lock($1)"
EXISTS = "SELECT to_regclass($1) IS NOT NULL"
TRY_LOCK_REBUILD = "SELECT pg_try_advisory_lock($1, hashtext($2))"
UNLOCK_REBUILD = "SELECT pg_advisory_unlock($1, hashtext($2))"
DROP_TABLE = "DROP TABLE IF EXISTS {table}"
MOVE_TABLE = "ALTER TABLE {table} SET SCHEMA {schema}"

log = structlog.get_logger()

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
Tables = Mapping[str, str]
"""A projection's table names -> the qualified names to write (live or fresh)."""
OnProgress = Callable[[int, int], None]
"""Called with (position reached, head) as a rebuild advances."""


class Projection(Protocol):
    """A read model: its tables, their DDL, and how a list of events changes their rows."""

    @property
    def name(self) -> str:
        """Unique name; the key of its checkpoint."""

    @property
    def tables(self) -> tuple[str, ...]:
        """The unqualified names of the tables it owns."""

    def ddl(self, tables: Tables) -> list[str]:
        """Statements creating its tables under the given qualified names."""

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        """Apply `events` (in position order, no gap) to `tables`; ignore types it skips."""


class ProjectionError(Exception):
    """A projection could not be advanced or rebuilt as asked."""


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one projection stands against the store's head."""

    name: str
    checkpoint: int
    head: int

    @property
    def lag(self) -> int:
        """How many recorded events it has not applied yet."""
        return self.head - self.checkpoint


def tables_in(schema: str, projection: Projection) -> dict[str, str]:
    """The projection's tables, qualified with `schema`."""
    return {table: f"{schema}.{table}" for table in projection.tables}


def in_order(events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    """`events` sorted by position, each position once."""
    return sorted({event.position: event for event in events}.values(), key=lambda e: e.position)


async def lock_checkpoint(connection: Connection, name: str) -> int:
    """Lock the projection's checkpoint row for this transaction (created at 0); its position."""
    await connection.execute(ENSURE_CHECKPOINT, name)
    return int(await connection.fetchval(LOCK_CHECKPOINT, name))


class ProjectionRunner:
    """Keeps projections level with the event store: live batches, catch-up, rebuilds.

    `pool` connects as the services' role. Gaps are read through `store` while a connection of
    `pool` holds a checkpoint lock: a shared pool needs a spare connection per concurrent call.
    """

    def __init__(
        self, pool: asyncpg.Pool, store: EventStore, projections: Sequence[Projection]
    ) -> None:
        self.pool = pool
        self.store = store
        self.projections = {projection.name: projection for projection in projections}

    async def ensure_tables(self) -> None:
        """Create, from its own DDL, the live tables of every projection that has none yet (a
        new projection, a new database); refuse a projection with only some of its tables."""
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(LOCK_CREATE, CREATE_LOCK_KEY)
            for projection in self.projections.values():
                live = tables_in(LIVE_SCHEMA, projection)
                present = [t for t in live.values() if await connection.fetchval(EXISTS, t)]
                if len(present) == len(live):
                    continue
                if present:
                    raise ProjectionError(
                        f"projection {projection.name!r} has only some of its tables "
                        f"({', '.join(present)}); drop them and let them be rebuilt"
                    )
                for statement in projection.ddl(live):
                    await connection.execute(statement)
                log.info("projection tables created", projection=projection.name)

    async def project(self, events: Sequence[RecordedEvent]) -> None:
        """Apply a delivered batch to every projection durably (a `ProjectHandler`)."""
        ordered = in_order(events)
        if ordered:
            for projection in self.projections.values():
                await self._advance(projection, ordered)

    async def catch_up(self) -> None:
        """Bring every projection up to the store's current head, a page per transaction."""
        head = await self.store.last_position()
        for projection in self.projections.values():
            checkpoint = await self._checkpoint(projection.name)
            async for page in self.store.read_all(after=checkpoint, until=head):
                await self._advance(projection, page)
            log.info("projection caught up", projection=projection.name, position=head)

    async def status(self) -> list[ProjectionStatus]:
        """Each projection's checkpoint and the store's head."""
        head = await self.store.last_position()
        return [
            ProjectionStatus(name, await self._checkpoint(name), head) for name in self.projections
        ]

    async def rebuild(self, name: str, on_progress: OnProgress | None = None) -> int:
        """Rebuild `name` from 0 into fresh tables, swap them in atomically; their position."""
        projection = self._named(name)
        async with self.pool.acquire() as connection:
            if not await connection.fetchval(TRY_LOCK_REBUILD, REBUILD_LOCK_CLASS, name):
                raise ProjectionError(f"a rebuild of {name!r} is already running")
            try:
                return await self._rebuild_locked(connection, projection, on_progress)
            finally:
                await self._drop(connection, tables_in(FRESH_SCHEMA, projection))
                await connection.fetchval(UNLOCK_REBUILD, REBUILD_LOCK_CLASS, name)

    async def _advance(self, projection: Projection, events: Sequence[RecordedEvent]) -> None:
        """One transaction: skip what the checkpoint covers, fill gaps, apply, move it on."""
        async with self.pool.acquire() as connection, connection.transaction():
            checkpoint = await lock_checkpoint(connection, projection.name)
            position = checkpoint
            tables = tables_in(LIVE_SCHEMA, projection)
            unseen = [event for event in events if event.position > checkpoint]
            async for page in self._gapless(projection.name, checkpoint, unseen):
                await projection.apply(connection, page, tables)
                position = page[-1].position
            if position > checkpoint:
                await connection.execute(SET_CHECKPOINT, projection.name, position)
        log.debug("projection advanced", projection=projection.name, position=position)

    async def _gapless(
        self, name: str, after: int, events: Sequence[RecordedEvent]
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Pages covering (after, last of the ordered `events`], gaps read from the store."""
        run: list[RecordedEvent] = []
        for event in events:
            if event.position > after + 1:
                if run:
                    yield run
                    run = []
                log.info("projection fills a gap", projection=name, position=event.position)
                async for page in self._read(after, event.position - 1):
                    yield page
            run.append(event)
            after = event.position
        if run:
            yield run

    async def _read(self, after: int, until: int) -> AsyncIterator[list[RecordedEvent]]:
        """The store's events (after, until]; refuses to end short of `until`."""
        reached = after
        async for page in self.store.read_all(after=after, until=until):
            yield page
            reached = page[-1].position
        if reached != until:
            raise ProjectionError(f"the store holds no events {reached + 1}..{until}")

    async def _rebuild_locked(
        self, connection: Connection, projection: Projection, on_progress: OnProgress | None
    ) -> int:
        """Build fresh tables close to the head, then swap them in; the final position."""
        fresh = tables_in(FRESH_SCHEMA, projection)
        await self._drop(connection, fresh)
        for statement in projection.ddl(fresh):
            await connection.execute(statement)
        log.info("projection rebuild started", projection=projection.name)
        built, head = await self._build(connection, projection, on_progress)
        position = await self._swap(connection, projection, built, head)
        if on_progress:
            on_progress(position, position)
        log.info("projection rebuilt", projection=projection.name, position=position)
        return position

    async def _build(
        self, connection: Connection, projection: Projection, on_progress: OnProgress | None
    ) -> tuple[int, int]:
        """Fill the fresh tables a page per transaction until near the head; (built, head)."""
        fresh = tables_in(FRESH_SCHEMA, projection)
        built, head = 0, await self.store.last_position()
        while head - built > SWAP_BACKLOG:
            async for page in self.store.read_all(after=built, until=head):
                async with connection.transaction():
                    await projection.apply(connection, page, fresh)
                built = page[-1].position
                if on_progress:
                    on_progress(built, head)
            head = await self.store.last_position()
        return built, head

    async def _swap(
        self, connection: Connection, projection: Projection, built: int, head: int
    ) -> int:
        """Locked: fill fresh tables to max(checkpoint, head), make them live; that position."""
        fresh = tables_in(FRESH_SCHEMA, projection)
        async with connection.transaction():
            position = max(await lock_checkpoint(connection, projection.name), head)
            async for page in self._read(built, position):
                await projection.apply(connection, page, fresh)
            await self._drop(connection, tables_in(LIVE_SCHEMA, projection))
            for table in fresh.values():
                await connection.execute(MOVE_TABLE.format(table=table, schema=LIVE_SCHEMA))
            await connection.execute(SET_CHECKPOINT, projection.name, position)
        return position

    @staticmethod
    async def _drop(connection: Connection, tables: Tables) -> None:
        for table in tables.values():
            await connection.execute(DROP_TABLE.format(table=table))

    async def _checkpoint(self, name: str) -> int:
        return int(await self.pool.fetchval(SELECT_CHECKPOINT, name))

    def _named(self, name: str) -> Projection:
        if name not in self.projections:
            known = ", ".join(sorted(self.projections))
            raise ProjectionError(f"no projection named {name!r} (known: {known})")
        return self.projections[name]
