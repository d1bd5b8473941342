"""A projection whose code declares another version than its live tables' is rebuilt by the
projector when it starts again: fresh tables of the new shape swapped in, the version recorded
with them, no migration; `zs projections status` shows both versions until then."""

import asyncio
import contextlib
import random
from collections.abc import Sequence

import asyncpg

from events.log import RecordedEvent
from events.store import EventStore
from projections.engine.rebuild import Connection, Rebuild, Tables
from projections.engine.runner import ProjectionRunner
from projections.figures.projection import FIGURES
from tests.integration.figures_log import append, assert_whole, checksum, mixed_figures
from tests.integration.helpers import eventually

NEW_INDEX = "figures_period_idx"
INDEXES = "SELECT indexname FROM pg_indexes WHERE schemaname = 'views' AND tablename = 'figures'"


class FiguresVersion2:
    """The figures projection with one more index: a new shape of its table, a new version."""

    name = FIGURES.name
    version = FIGURES.version + 1
    tables = FIGURES.tables
    types = FIGURES.types
    ddl = (*FIGURES.ddl, f"CREATE INDEX {NEW_INDEX} ON {{figures}} (period)")

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        await FIGURES.apply(connection, events, tables)

    def rebuild(self) -> Rebuild:
        return FIGURES.rebuild()


async def indexes(connection: asyncpg.Connection) -> set[str]:
    return {row["indexname"] for row in await connection.fetch(INDEXES)}


async def rebuilt(connection: asyncpg.Connection) -> bool:
    return NEW_INDEX in await indexes(connection)


async def test_a_new_version_is_rebuilt_when_the_projector_starts_again(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    await runner.ensure_tables()
    events = await append(store, mixed_figures(300, random.Random(3)))
    await runner.project(events)
    before = await checksum(owner_connection)
    [status] = await runner.status()
    assert (status.version, status.declared) == (FIGURES.version, FIGURES.version)

    again = ProjectionRunner(runner.pool, runner.store, [FiguresVersion2()])
    await again.ensure_tables()  # the tables exist: left as they are, in the old shape
    [status] = await again.status()
    assert (status.version, status.declared) == (FIGURES.version, FIGURES.version + 1)
    assert NEW_INDEX not in await indexes(owner_connection)

    following = asyncio.create_task(again.run())
    try:
        await eventually(lambda: rebuilt(owner_connection), "the rebuilt table of version 2")
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
    [status] = await again.status()

    new = FIGURES.version + 1
    assert (status.version, status.declared, status.checkpoint) == (new, new, 300)
    assert await checksum(owner_connection) == before
    await assert_whole(owner_connection, 300)
