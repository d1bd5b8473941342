"""The projector runner: each projection follows the event store on its own, exactly once in effect.

Invariants: a projection's input is the store, read in position order (only the types it
consumes); each page is applied in a transaction that holds the projection's checkpoint row lock
and moves the checkpoint with the read-model change, to the last position read (for a filtered
read that came up short of a full page: the head it read up to). Projections advance
independently: `run()` gives each its own task, woken by the store's NOTIFY, by `wake()` (the
`zs.events` handler `project`) or by a poll. A rebuild fills fresh tables in schema
`views_rebuild` up to a head it names through the projection's `Rebuild`
(`projections.engine.rebuild`: windows applied by the projection's own `apply`, or independent
groups of streams folded in memory and written by COPY, shares of them in worker processes of
their own, `projections.engine.workers`), a part per transaction, then applies
what was appended meanwhile by windows until the head is near. It creates their indexes, then,
under the same checkpoint lock, brings them level with the live checkpoint and moves them into
`views` in one transaction.

Its size: live following, catch-up and the rebuild with its atomic swap share the checkpoint
lock and the page reading; kept together so the exactly-once argument reads in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import asyncpg
import structlog

from events.log import RecordedEvent
from events.store import NOTIFY_CHANNEL, EventStore
from projections.engine.checkpoints import Checkpoints
from projections.engine.checkpoints import ProjectionStatus as ProjectionStatus
from projections.engine.rebuild import Connection, Rebuild, Tables
from projections.engine.workers import SHARES_PER_WORKER, Processes, Workers

LIVE_SCHEMA = "views"
FRESH_SCHEMA = "views_rebuild"
REBUILD_LOCK_CLASS = 0x5A53_5242  # "ZSRB": one rebuild per projection at a time
CREATE_LOCK_KEY = 0x5A53_5443  # "ZSTC": one process creates missing projection tables
SWAP_BACKLOG = 1000
"""A rebuild swaps once at most this many events are left to apply under the lock."""
LIVE_PAGE_SIZE = 2000
REBUILD_PAGE_SIZE = 10_000
RETRY_PAUSE_S = 1.0
FALLBACK_POLL_S = 5.0

LOCK_CREATE = "SELECT pg_advisory_xact_lock($1)"
EXISTS = "SELECT to_regclass($1) IS NOT NULL"
TRY_LOCK_REBUILD = "SELECT pg_try_advisory_lock($1, hashtext($2))"
UNLOCK_REBUILD = "SELECT pg_advisory_unlock($1, hashtext($2))"
DROP_TABLE = "DROP TABLE IF EXISTS {table}"
MOVE_TABLE = "ALTER TABLE {table} SET SCHEMA {schema}"
FIRST_DIFFERENCE = """
(SELECT 'only live: ' || r FROM (SELECT t::text AS r FROM {live} t
                                 EXCEPT ALL SELECT t::text FROM {fresh} t) AS d ORDER BY r LIMIT 1)
UNION ALL
(SELECT 'only recomputed: ' || r FROM (SELECT t::text AS r FROM {fresh} t
                                       EXCEPT ALL SELECT t::text FROM {live} t) AS d
 ORDER BY r LIMIT 1)
LIMIT 1
"""

log = structlog.get_logger()

OnProgress = Callable[[int, int], None]
"""Called with (position reached, head) as a rebuild advances."""


class Projection(Protocol):
    """A read model: its tables, their DDL, the types it reads and how events change its rows."""

    @property
    def name(self) -> str:
        """Unique name; the key of its checkpoint."""

    @property
    def version(self) -> int:
        """The version of its tables and its fold: raised with every change of either, so that
        the projector rebuilds it (no migration)."""

    @property
    def tables(self) -> tuple[str, ...]:
        """The unqualified names of the tables it owns."""

    @property
    def types(self) -> Collection[str] | None:
        """The event types it consumes (None: all); only these are read for it."""

    @property
    def ddl(self) -> Sequence[str]:
        """Statements creating its tables (then `CREATE INDEX`es), table names as
        `{placeholders}` that the runner fills with the live or the fresh names."""

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        """Apply `events` (in position order) to `tables`; ignore types it skips."""

    def rebuild(self) -> Rebuild:
        """How a rebuild fills its fresh tables (`projections.engine.rebuild`)."""


class ProjectionError(Exception):
    """A projection could not be advanced or rebuilt as asked."""


def tables_in(schema: str, projection: Projection) -> dict[str, str]:
    """The projection's tables, qualified with `schema`."""
    return {table: f"{schema}.{table}" for table in projection.tables}


def is_index(statement: str) -> bool:
    """Whether a DDL statement creates a secondary index (made after a bulk load)."""
    return statement.lstrip().upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))


def ddl(projection: Projection, tables: Tables) -> list[str]:
    """The projection's statements for the tables under the given qualified names."""
    return [statement.format(**tables) for statement in projection.ddl]


def lag_seconds(times: Mapping[int, datetime], position: int, head: int) -> float:
    """How long before the head's recording the event after `position` was recorded (0 when
    caught up)."""
    if position >= head or head not in times or position not in times:
        return 0.0
    return (times[head] - times[position]).total_seconds()


def stopping() -> bool:
    """Whether the running task is being cancelled: a failure then (say, of a connection the
    server closed) must end the task rather than start it over."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def wait_for_wake(wake: asyncio.Event, timeout_s: float) -> None:
    """Wait until `wake` is set or `timeout_s` passed; end with CancelledError when the task
    is being cancelled already. A library that swallows a cancellation (seen under load: a
    relay that went on after its task was cancelled) would otherwise leave the task running,
    and `asyncio.timeout` entered during a pending cancellation turns the next cancel into its
    own TimeoutError, so the loop would wait out every poll interval for ever."""
    if stopping():
        raise asyncio.CancelledError
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await wake.wait()


class ProjectionRunner:
    """Keeps projections level with the event store: follow, catch-up, status, rebuild.

    `pool` connects as the services' role; a projection advancing holds one connection for its
    checkpoint lock and reads pages through `store` on another. With `workers` (of more than
    one), rebuilds fold the shares of their stages in that many worker processes (shared by the
    rebuilds running at once).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        projections: Sequence[Projection],
        workers: Workers | None = None,
    ) -> None:
        self.pool = pool
        self.store = store
        self.workers = Processes(workers) if workers is not None and workers.count > 1 else None
        self.checkpoints = Checkpoints(pool)
        self.projections = {projection.name: projection for projection in projections}
        self._wakers = {name: asyncio.Event() for name in self.projections}
        self._running = False
        self._current: set[str] = set()
        """Projections whose live tables were seen to be of their code's version."""

    async def ensure_tables(self) -> None:
        """Create, from its own DDL, the live tables of every projection that has none yet (a
        new projection, a new database), recording its version; refuse a projection with only
        some of its tables unless they are of another version (its rebuild makes them all)."""
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(LOCK_CREATE, CREATE_LOCK_KEY)
            for projection in self.projections.values():
                live = tables_in(LIVE_SCHEMA, projection)
                present = [t for t in live.values() if await connection.fetchval(EXISTS, t)]
                if len(present) == len(live):
                    continue
                if present:
                    version = await self.checkpoints.read_version(connection, projection.name)
                    if version != projection.version:
                        continue
                    raise ProjectionError(
                        f"projection {projection.name!r} has only some of its tables "
                        f"({', '.join(present)}); drop them and let them be rebuilt"
                    )
                for statement in ddl(projection, live):
                    await connection.execute(statement)
                await self.checkpoints.set_version(connection, projection.name, projection.version)
                log.info("projection tables created", projection=projection.name)

    def wake(self) -> None:
        """Tell every projection task that the store may have new events."""
        for waker in self._wakers.values():
            waker.set()

    async def project(self, events: Sequence[RecordedEvent]) -> None:
        """The `zs.events` handler: wake the projections; the delivered events are never applied,
        the store is read instead. Without `run()` in this process, read the store up to the
        last delivered position here."""
        self.wake()
        if not self._running and events:
            await self.catch_up(until=max(event.position for event in events))

    async def run(self) -> None:
        """Follow the store until cancelled: one task per projection and a NOTIFY listener,
        each starting over after a database failure."""
        self._running = True
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._listen())
                for projection in self.projections.values():
                    group.create_task(self._follow(projection))
        finally:
            self._running = False

    async def catch_up(self, until: int | None = None) -> None:
        """Bring every projection up to `until` (default: the store's current head)."""
        for projection in self.projections.values():
            await self.advance(projection.name, until)

    async def advance(self, name: str, until: int | None = None) -> int:
        """Bring one projection up to `until` (default: the head), a page per transaction;
        its checkpoint then. Refuses a position beyond the store's head."""
        projection = self._named(name)
        head = await self.store.last_position()
        if until is not None and until > head:
            raise ProjectionError(f"the store holds no events {head + 1}..{until}")
        until = head if until is None else until
        await self._upgrade(projection)
        position = await self.checkpoints.position(name)
        while position < until:
            position = await self._advance_page(projection, until)
        return position

    async def status(self) -> list[ProjectionStatus]:
        """Each projection's checkpoint, the store's head, the lag in events and seconds, and the
        version of its tables beside the one its code declares."""
        head = await self.store.last_position()
        positions = {name: await self.checkpoints.position(name) for name in self.projections}
        times = await self.store.recorded_times({head, *(max(p, 1) for p in positions.values())})
        found = []
        for name, position in positions.items():
            lag = lag_seconds(times, max(position, 1), head)
            version = await self.checkpoints.version(name)
            declared = self.projections[name].version
            found.append(ProjectionStatus(name, position, head, lag, version, declared))
        return found

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

    async def _upgrade(self, projection: Projection) -> None:
        """Rebuild the projection if its live tables are of another version than its code's
        (the old ones serve until the swap); checked once per process."""
        if projection.name in self._current:
            return
        version = await self.checkpoints.version(projection.name)
        if version != projection.version:
            log.info(
                "projection version changed; rebuilding", projection=projection.name,
                tables=version, code=projection.version,
            )  # fmt: skip
            await self.rebuild(projection.name)
        self._current.add(projection.name)

    async def _advance_page(self, projection: Projection, until: int) -> int:
        """One transaction: lock the checkpoint, apply the next page up to `until`, move it on."""
        async with self.pool.acquire() as connection, connection.transaction():
            checkpoint = await self.checkpoints.lock(connection, projection.name)
            if checkpoint >= until:
                return checkpoint
            tables = tables_in(LIVE_SCHEMA, projection)
            position = until
            async for page, reached in self._pages(projection, checkpoint, until, LIVE_PAGE_SIZE):
                await projection.apply(connection, page, tables)
                position = reached
                break
            await self.checkpoints.set(connection, projection.name, position)
        log.debug("projection advanced", projection=projection.name, position=position)
        return position

    async def _pages(
        self, projection: Projection, after: int, until: int, size: int
    ) -> AsyncIterator[tuple[list[RecordedEvent], int]]:
        """Pages of the projection's types in (after, until], each with the position it covers
        (a short page covers up to `until`)."""
        types = None if projection.types is None else sorted(projection.types)
        async for page in self.store.read_all(after, until=until, page_size=size, types=types):
            yield page, page[-1].position if len(page) == size else until

    async def _follow(self, projection: Projection) -> None:
        """Advance on every wake-up (or poll), starting over after a failure."""
        waker = self._wakers[projection.name]
        while True:
            try:
                waker.clear()
                await self.advance(projection.name)
                await wait_for_wake(waker, FALLBACK_POLL_S)
            except Exception as error:
                if stopping():  # a failure while cancelled (of a lost connection) must not hide it
                    raise asyncio.CancelledError from error
                log.exception("projection interrupted; starting over", projection=projection.name)
                await asyncio.sleep(RETRY_PAUSE_S)

    async def _listen(self) -> None:
        """Wake the projections on each NOTIFY of an append, re-listening after a failure."""
        while True:
            try:
                await self._listen_once()
            except Exception as error:
                if stopping():
                    raise asyncio.CancelledError from error
                log.exception("projection listener interrupted; starting over")
            await asyncio.sleep(RETRY_PAUSE_S)
            self.wake()

    async def _listen_once(self) -> None:
        """Hold a connection listening on the store's channel until it closes."""
        closed = asyncio.Event()

        def on_append(*_: object) -> None:
            self.wake()

        async with self.pool.acquire() as connection:
            connection.add_termination_listener(lambda _: closed.set())
            await connection.add_listener(NOTIFY_CHANNEL, on_append)
            try:
                await closed.wait()
            finally:
                if not connection.is_closed():
                    await connection.remove_listener(NOTIFY_CHANNEL, on_append)

    async def verify(self, name: str, on_progress: OnProgress | None = None) -> str | None:
        """Recompute `name` from the log into scratch tables and compare them, row by row, with
        the live ones at the live checkpoint; the first difference (None: identical)."""
        projection = self._named(name)
        async with self.pool.acquire() as connection:
            if not await connection.fetchval(TRY_LOCK_REBUILD, REBUILD_LOCK_CLASS, name):
                raise ProjectionError(f"a rebuild of {name!r} is already running")
            fresh = tables_in(FRESH_SCHEMA, projection)
            try:
                await self._create(connection, projection, fresh)
                target = await self.checkpoints.position(name)
                built, _ = await self._build(connection, projection, on_progress, until=target)
                async with connection.transaction():
                    position = await self.checkpoints.lock(connection, projection.name)
                    async for page, _ in self._pages(projection, built, position, SWAP_BACKLOG):
                        await projection.apply(connection, page, fresh)
                    for table, live in tables_in(LIVE_SCHEMA, projection).items():
                        query = FIRST_DIFFERENCE.format(live=live, fresh=fresh[table])
                        if difference := await connection.fetchval(query):
                            return f"{live} at position {position}: {difference}"
                return None
            finally:
                await self._drop(connection, fresh)
                await connection.fetchval(UNLOCK_REBUILD, REBUILD_LOCK_CLASS, name)

    async def _create(self, connection: Connection, projection: Projection, tables: Tables) -> None:
        """(Re)create the projection's tables under `tables`, without their indexes."""
        await self._drop(connection, tables)
        for statement in (s for s in ddl(projection, tables) if not is_index(s)):
            await connection.execute(statement)

    async def _rebuild_locked(
        self, connection: Connection, projection: Projection, on_progress: OnProgress | None
    ) -> int:
        """Build fresh tables close to the head, index them, swap them in; the final position."""
        fresh = tables_in(FRESH_SCHEMA, projection)
        await self._create(connection, projection, fresh)
        statements = ddl(projection, fresh)
        log.info("projection rebuild started", projection=projection.name)
        built, head = await self._build(connection, projection, on_progress)
        for statement in (s for s in statements if is_index(s)):
            await connection.execute(statement)
        position = await self._swap(connection, projection, built, head)
        if on_progress:
            on_progress(position, position)
        log.info("projection rebuilt", projection=projection.name, position=position)
        return position

    async def _build(
        self,
        connection: Connection,
        projection: Projection,
        on_progress: OnProgress | None,
        until: int | None = None,
    ) -> tuple[int, int]:
        """Fill the fresh tables up to the head through the projection's rebuild, its stages in
        order, a part per transaction (a stage's shares in the workers, if any); then, unless
        built to a given `until`, apply windows of what was appended meanwhile until the head is
        near; (built, head)."""
        fresh = tables_in(FRESH_SCHEMA, projection)
        head = until if until is not None else await self.store.last_position()
        rebuild = projection.rebuild()
        shares = self.workers.workers.count * SHARES_PER_WORKER if self.workers else 1
        done = 0

        def shared(events: int) -> None:
            nonlocal done
            done += events
            if on_progress:
                on_progress(min(done, head), head)

        for stage in await rebuild.stages(self.store, head, shares):
            if self.workers and len(stage) > 1:
                await self.workers.fold(rebuild, stage, head, fresh, shared)
                continue
            for share in stage:
                async for events, reached in rebuild.parts(self.store, head, share):
                    async with connection.transaction():
                        await rebuild.write(connection, events, fresh)
                    if on_progress:
                        on_progress(reached, head)
        built = head
        while until is None and (head := await self.store.last_position()) - built > SWAP_BACKLOG:
            async for page, reached in self.store.windows(projection.types, built, head):
                async with connection.transaction():
                    await projection.apply(connection, page, fresh)
                built = reached
                if on_progress:
                    on_progress(built, head)
        return built, head

    async def _swap(
        self, connection: Connection, projection: Projection, built: int, head: int
    ) -> int:
        """Locked: fill fresh tables to max(checkpoint, head), make them live; that position."""
        fresh = tables_in(FRESH_SCHEMA, projection)
        async with connection.transaction():
            position = max(await self.checkpoints.lock(connection, projection.name), head)
            async for page, _ in self._pages(projection, built, position, REBUILD_PAGE_SIZE):
                await projection.apply(connection, page, fresh)
            await self._drop(connection, tables_in(LIVE_SCHEMA, projection))
            for table in fresh.values():
                await connection.execute(MOVE_TABLE.format(table=table, schema=LIVE_SCHEMA))
            await self.checkpoints.set(connection, projection.name, position)
            await self.checkpoints.set_version(connection, projection.name, projection.version)
        return position

    @staticmethod
    async def _drop(connection: Connection, tables: Tables) -> None:
        for table in tables.values():
            await connection.execute(DROP_TABLE.format(table=table))

    def _named(self, name: str) -> Projection:
        if name not in self.projections:
            known = ", ".join(sorted(self.projections))
            raise ProjectionError(f"no projection named {name!r} (known: {known})")
        return self.projections[name]
