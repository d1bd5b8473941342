"""The projector runner against a real PostgreSQL: exactly-once effect, gaps, failures, catch-up,
status and the live tables' own DDL."""

import asyncio
import random
from collections.abc import Sequence
from decimal import Decimal

import asyncpg
import pytest

from events.log import RecordedEvent
from events.store import EventStore
from projections.attainment.projection import ATTAINMENT
from projections.engine.checkpoints import Checkpoints
from projections.engine.rebuild import Connection, Pages, Rebuild, Tables
from projections.engine.runner import (
    ProjectionError,
    ProjectionRunner,
    ProjectionStatus,
)
from projections.figures.projection import FIGURES
from tests.factories import figure_event
from tests.integration.figures_log import (
    ORDER,
    TABLE_DEFINITION,
    append,
    assert_whole,
    checkpoint,
    checksum,
    correction,
    mixed_figures,
    month,
)
from tests.integration.helpers import eventually, waiting_for_a_lock


class FailingFigures:
    """The figures projection, except that it fails once on reaching `fail_at`, after having
    written everything before it in the same transaction."""

    name = FIGURES.name
    version = FIGURES.version
    tables = FIGURES.tables
    types = FIGURES.types

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.failed = False

    ddl = FIGURES.ddl

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        if self.failed or all(event.position != self.fail_at for event in events):
            await FIGURES.apply(connection, events, tables)
            return
        await FIGURES.apply(connection, [e for e in events if e.position < self.fail_at], tables)
        self.failed = True
        raise RuntimeError("crash inside apply")

    def rebuild(self) -> Rebuild:
        return Pages(self)


async def test_latest_publication_wins_with_revision_count_and_reason(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(
        store,
        [
            figure_event(value=64),
            figure_event(period="2022-08", value=70, numerator=7, denominator=10),
            correction(value=66.5, reason="late registrations"),
            figure_event(breakdown="women", value=30, status="final"),
            figure_event(period="2022-08", value=71),
        ],
    )

    await runner.project(events)

    rows = await owner_connection.fetch(
        f"SELECT breakdown, period, value, revision_count, position, last_reason, numerator"
        f" FROM views.figures ORDER BY {ORDER}"
    )
    assert [tuple(row) for row in rows] == [
        ("total", "2022-07", Decimal("66.5"), 1, 3, "late registrations", None),
        ("total", "2022-08", Decimal(71), 1, 5, None, None),
        ("women", "2022-07", Decimal(30), 0, 4, None, None),
    ]
    await assert_whole(owner_connection, 5)


async def test_the_same_batch_again_changes_nothing(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(store, mixed_figures(30, random.Random(1)))
    await runner.project(events)
    before = await checksum(owner_connection)

    await runner.project(events)
    await runner.project(events[10:20])

    assert await checksum(owner_connection) == before
    await assert_whole(owner_connection, 30)


async def test_a_gap_in_the_deliveries_is_filled_from_the_store(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(store, [figure_event(period=month(n)) for n in range(9)])
    await runner.project(events[0:3])

    await runner.project(events[6:9])

    await assert_whole(owner_connection, 9)
    assert await owner_connection.fetchval("SELECT count(*) FROM views.figures") == 9


async def test_out_of_order_and_repeated_events_in_a_batch_apply_once_in_order(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    first, second, third, other = await append(
        store, [figure_event(value=1), figure_event(value=2), figure_event(value=3),
                figure_event(period="2022-08")]
    )  # fmt: skip

    await runner.project([third, first, other, second, first, third])

    row = await owner_connection.fetchrow(
        "SELECT value, revision_count FROM views.figures WHERE period = '2022-07'"
    )
    assert row is not None
    assert (row["value"], row["revision_count"]) == (Decimal(3), 2)
    await assert_whole(owner_connection, 4)


async def test_a_batch_whose_gap_and_holes_lie_inside_it_is_filled(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(store, mixed_figures(12, random.Random(2)))

    await runner.project([events[11], events[4], events[7]])

    await assert_whole(owner_connection, 12)


async def test_a_failure_inside_apply_changes_nothing_and_a_retry_succeeds(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    runner = ProjectionRunner(store.pool, store, [FailingFigures(fail_at=6)])
    events = await append(store, mixed_figures(9, random.Random(3)))
    await runner.project(events[:3])
    before = await checksum(owner_connection)

    with pytest.raises(RuntimeError, match="crash inside apply"):
        await runner.project(events[3:9])

    assert await checksum(owner_connection) == before
    await assert_whole(owner_connection, 3)
    await runner.project(events[3:9])
    await assert_whole(owner_connection, 9)


async def test_an_event_beyond_the_store_head_is_refused(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    [event] = await append(store, [figure_event()])
    phantom = event.model_copy(update={"position": 5})

    with pytest.raises(ProjectionError, match=r"no events 2\.\.5"):
        await runner.project([phantom])

    assert await checkpoint(owner_connection) is None
    assert await owner_connection.fetchval("SELECT count(*) FROM views.figures") == 0


async def test_catch_up_brings_every_projection_to_the_head(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    await runner.catch_up()
    assert await checkpoint(owner_connection) is None

    events = await append(store, mixed_figures(1500, random.Random(4)))
    await runner.project(events[:5])
    await runner.catch_up()

    await assert_whole(owner_connection, 1500)


async def test_status_shows_checkpoint_head_and_lag(
    store: EventStore, runner: ProjectionRunner
) -> None:
    events = await append(store, mixed_figures(10, random.Random(5)))
    await runner.project(events[:4])

    [status] = await runner.status()

    assert status == ProjectionStatus(
        "figures", checkpoint=4, head=10, version=FIGURES.version, declared=FIGURES.version
    )
    assert status.lag == 6


async def test_missing_live_tables_are_created_from_the_projections_own_ddl(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    definition = await owner_connection.fetch(TABLE_DEFINITION, "views.figures")
    await owner_connection.execute("DROP TABLE views.figures")

    await runner.ensure_tables()
    await runner.ensure_tables()  # a second start changes nothing

    assert await owner_connection.fetch(TABLE_DEFINITION, "views.figures") == definition
    assert ("owner", "", "zs_projector") in [tuple(row) for row in definition]


async def test_a_projection_with_only_some_of_its_tables_is_refused(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    await owner_connection.execute("DROP TABLE views.attainment_history")

    with pytest.raises(ProjectionError, match="only some of its tables"):
        await ProjectionRunner(store.pool, store, [ATTAINMENT]).ensure_tables()


async def test_the_live_projector_waits_while_the_checkpoint_is_locked(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(store, mixed_figures(4, random.Random(9)))
    await runner.project(events[:1])
    async with store.pool.acquire() as holder, holder.transaction():
        await Checkpoints.lock(holder, "figures")
        projecting = asyncio.create_task(runner.project(events))
        await eventually(lambda: waiting_for_a_lock(owner_connection), "the projector at the lock")
        assert not projecting.done()

    await projecting
    await assert_whole(owner_connection, 4)


async def test_concurrent_deliveries_of_the_same_events_apply_once(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    rng = random.Random(11)
    await runner.project(await append(store, mixed_figures(1, rng)))

    for _ in range(5):
        events = await append(store, mixed_figures(100, rng))
        await asyncio.gather(
            runner.project(events), runner.project(events[50:]), runner.project(events[::-1]),
            runner.catch_up(), runner.project(events[20:70]),
        )  # fmt: skip

    await assert_whole(owner_connection, 501)
