"""The projector runner against a real PostgreSQL: exactly-once effect, gaps, catch-up, rebuild."""

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from events.store import EventStore, NewEvent, RecordedEvent, create_pool
from infra.roles import DbRole
from projections.attainment import attainment
from projections.attainment_view import ATTAINMENT
from projections.checkpoints import Checkpoints
from projections.figures import FIGURES
from projections.registry import PROJECTIONS
from projections.runner import (
    REBUILD_LOCK_CLASS,
    Connection,
    ProjectionError,
    ProjectionRunner,
    ProjectionStatus,
    Tables,
)
from services.replay import agreement_events
from tests.benchmarks.national import store_events
from tests.factories import figure_event

# Independent of the projection's code: the latest publication per figure, straight from the log.
EXPECTED_FIGURES = """
SELECT data->>'jobcenter_id' AS jobcenter_id, data->>'indicator' AS indicator,
       data->>'breakdown' AS breakdown, data->>'period' AS period,
       (data->>'value')::numeric, (data->>'numerator')::numeric,
       (data->>'denominator')::numeric, data->>'status', publications::integer - 1, position,
       recorded_at, data->>'reason'
FROM (
    SELECT *,
           row_number() OVER figure AS newest,
           count(*) OVER (PARTITION BY data->>'jobcenter_id', data->>'indicator',
                          data->>'breakdown', data->>'period') AS publications
    FROM store.events
    WHERE type IN ('MonthlyFigureReported', 'MonthlyFigureCorrected') AND position <= $1
    WINDOW figure AS (PARTITION BY data->>'jobcenter_id', data->>'indicator',
                      data->>'breakdown', data->>'period' ORDER BY position DESC)
) AS publication
WHERE newest = 1
"""
ORDER = "jobcenter_id, indicator, breakdown, period"
CHECKSUM = "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY {order}), '')) FROM ({rows}) t"
FIGURE_COLUMNS = (
    "jobcenter_id, indicator, breakdown, period, value, numerator, denominator, status,"
    " revision_count, position, recorded_at, last_reason"
)
SELECT_CHECKPOINT = "SELECT position FROM service.checkpoints WHERE projection = 'figures'"
TABLE_DEFINITION = """
SELECT 'column' AS kind, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') AS definition
FROM pg_attribute a LEFT JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum)
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = $1::regclass
UNION ALL
SELECT 'index', c.relname, replace(pg_get_indexdef(i.indexrelid), $1 || ' ', 'T ')
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = $1::regclass
UNION ALL
SELECT 'owner', '', pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass
ORDER BY 1, 2
"""


def correction(reason: str = "late registrations", **data: Any) -> NewEvent:
    """A MonthlyFigureCorrected event."""
    event = figure_event(**data, reason=reason)
    return event.model_copy(update={"type": "MonthlyFigureCorrected"})


async def append(store: EventStore, events: Sequence[NewEvent]) -> list[RecordedEvent]:
    """Append `events` and answer them as recorded."""
    appended = await store.append(events)
    first, last = appended[0].position, appended[-1].position
    return [event async for page in store.read_all(first - 1, until=last) for event in page]


def month(n: int) -> str:
    """The n-th month from 2021-01 (0-based), as a period."""
    return f"{2021 + n // 12}-{n % 12 + 1:02d}"


def mixed_figures(count: int, rng: random.Random) -> list[NewEvent]:
    """Reports and corrections over a few figures, so months get several vintages."""
    events = []
    for _ in range(count):
        data: dict[str, Any] = {
            "jobcenter_id": rng.choice(["06437", "06438"]),
            "breakdown": rng.choice(["total", "women"]),
            "period": month(rng.randrange(6)),
            "value": rng.randrange(1, 10_000) / 10,
        }
        events.append(correction(**data) if rng.random() < 0.3 else figure_event(**data))
    return events


async def checksum(connection: asyncpg.Connection) -> str:
    """md5 over every row of the live figures table, in key order."""
    rows = f"SELECT {FIGURE_COLUMNS} FROM views.figures"
    return str(await connection.fetchval(CHECKSUM.format(order=ORDER, rows=rows)))


async def expected_checksum(connection: asyncpg.Connection, position: int) -> str:
    """md5 of what the figures table must hold at `position`, computed from the log alone."""
    query = CHECKSUM.format(order=ORDER, rows=EXPECTED_FIGURES)
    return str(await connection.fetchval(query, position))


async def checkpoint(connection: asyncpg.Connection) -> int | None:
    """The figures checkpoint (None when it has no row yet)."""
    value = await connection.fetchval(SELECT_CHECKPOINT)
    return None if value is None else int(value)


async def assert_whole(connection: asyncpg.Connection, position: int) -> None:
    """The live table and its checkpoint reflect exactly the log up to `position`."""
    assert await checkpoint(connection) == position
    assert await checksum(connection) == await expected_checksum(connection, position)


@pytest.fixture
async def runner(service_urls: dict[DbRole, str]) -> AsyncIterator[ProjectionRunner]:
    """A runner for the figures projection, connected as the projector's login."""
    pool = await create_pool(service_urls[DbRole.PROJECTOR], role=DbRole.PROJECTOR.group)
    yield ProjectionRunner(pool, EventStore(pool), [FIGURES])
    await pool.close()


class FailingFigures:
    """The figures projection, except that it fails once on reaching `fail_at`, after having
    written everything before it in the same transaction."""

    name = FIGURES.name
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

    def loader(self) -> None:
        return None


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

    assert status == ProjectionStatus("figures", checkpoint=4, head=10)
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


async def test_rebuild_gives_tables_identical_to_the_live_ones(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(store, mixed_figures(2500, random.Random(6)))
    await runner.project(events)
    live = await checksum(owner_connection)
    definition = await owner_connection.fetch(TABLE_DEFINITION, "views.figures")
    progress: list[tuple[int, int]] = []

    position = await runner.rebuild("figures", lambda done, head: progress.append((done, head)))

    assert position == 2500
    assert await checksum(owner_connection) == live
    await assert_whole(owner_connection, 2500)
    assert await owner_connection.fetch(TABLE_DEFINITION, "views.figures") == definition
    assert progress[0] == (2500, 2500)  # one page: a rebuild reads 10,000 events a page
    assert progress[-1] == (2500, 2500)
    assert await owner_connection.fetchval("SELECT to_regclass('views_rebuild.figures')") is None


async def test_rebuild_ahead_of_a_lagging_live_projector_sets_its_checkpoint(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(store, mixed_figures(40, random.Random(7)))
    await runner.project(events[:10])

    assert await runner.rebuild("figures") == 40
    await runner.project(events[20:30])

    await assert_whole(owner_connection, 40)


TABLE_CHECKSUM = "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {} t"
ATTAINMENT_ROWS = "SELECT * FROM views.attainment WHERE agreement_id = $1 ORDER BY ordinal"


async def view_checksums(connection: asyncpg.Connection) -> dict[str, str]:
    """md5 over every row of every live table of every projection."""
    tables = [f"views.{table}" for projection in PROJECTIONS for table in projection.tables]
    return {t: await connection.fetchval(TABLE_CHECKSUM.format(t)) for t in tables}


async def test_rebuilds_equal_the_live_tables_after_a_national_workload(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    runner = ProjectionRunner(store.pool, store, PROJECTIONS)
    events = list(store_events(jobcenters=4, years=2, seed=3))
    for start in range(0, len(events), 700):  # live batches end anywhere in the workload
        await store.append(events[start : start + 700])
        await runner.catch_up()
    live = await view_checksums(owner_connection)
    head = await store.last_position()

    for projection in PROJECTIONS:
        assert await runner.rebuild(projection.name) == head

    assert await view_checksums(owner_connection) == live
    assert await owner_connection.fetchval("SELECT count(*) FROM views.attainment_history") > 0
    for agreement in await owner_connection.fetch("SELECT agreement_id FROM views.agreement_years"):
        agreement_id = agreement["agreement_id"]
        replayed = attainment(agreement_id, await agreement_events(store, agreement_id, head) or [])
        rows = await owner_connection.fetch(ATTAINMENT_ROWS, agreement_id)
        assert replayed is not None
        assert [row["target_id"] for row in rows] == [t.target_id for t in replayed.targets]
        assert [(row["actual"], row["status"]) for row in rows] == [
            (t.actual, t.status) for t in replayed.targets
        ]


class StaleHeadStore(EventStore):
    """The store, but its head lags `behind` events, as if they came after it was asked."""

    def __init__(self, store: EventStore, behind: int) -> None:
        super().__init__(store.pool)
        self.behind = behind

    async def last_position(self) -> int:
        return max(await super().last_position() - self.behind, 0)


async def test_rebuild_catches_up_to_a_live_checkpoint_beyond_the_head_it_built_to(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    await runner.project(await append(store, mixed_figures(2500, random.Random(12))))
    stale = ProjectionRunner(store.pool, StaleHeadStore(store, behind=300), [FIGURES])

    assert await stale.rebuild("figures") == 2500

    await assert_whole(owner_connection, 2500)


async def test_rebuild_while_ingest_and_live_projection_go_on_loses_nothing(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    rng = random.Random(8)
    await runner.project(await append(store, mixed_figures(3000, rng)))
    rebuilt = asyncio.Event()
    batches_after_rebuild = 0
    checkpoints: list[int] = []

    async def ingest_and_project() -> None:
        nonlocal batches_after_rebuild
        while batches_after_rebuild < 5:
            recorded = await append(store, mixed_figures(25, rng))
            delivery = recorded + recorded[: rng.randrange(len(recorded))]  # at least once
            rng.shuffle(delivery)
            await runner.project(delivery)
            checkpoints.append((await runner.status())[0].checkpoint)
            batches_after_rebuild += rebuilt.is_set()
            await asyncio.sleep(0.005)

    async def rebuild() -> int:
        await asyncio.sleep(0.05)
        position = await runner.rebuild("figures")
        rebuilt.set()
        return position

    async def read() -> int:
        reads = 0
        while batches_after_rebuild < 5:
            assert await store.pool.fetchval("SELECT count(*) FROM views.figures") > 0
            reads += 1
            await asyncio.sleep(0.002)
        return reads

    _, position, reads = await asyncio.gather(ingest_and_project(), rebuild(), read())

    head = await store.last_position()
    assert 3000 < position < head
    assert reads > 10
    assert checkpoints == sorted(checkpoints)
    assert checkpoints[-1] == head
    await assert_whole(owner_connection, head)


async def test_rebuild_refuses_an_unknown_name_and_a_second_rebuild_at_once(
    runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    with pytest.raises(ProjectionError, match="no projection named 'nope'"):
        await runner.rebuild("nope")
    await owner_connection.execute(
        "SELECT pg_advisory_lock($1, hashtext($2))", REBUILD_LOCK_CLASS, "figures"
    )

    with pytest.raises(ProjectionError, match="already running"):
        await runner.rebuild("figures")


async def test_the_live_projector_waits_while_the_checkpoint_is_locked(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    events = await append(store, mixed_figures(4, random.Random(9)))
    await runner.project(events[:1])
    async with store.pool.acquire() as holder, holder.transaction():
        await Checkpoints.lock(holder, "figures")
        projecting = asyncio.create_task(runner.project(events))
        await asyncio.sleep(0.2)
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


def run_cli(database_url: str, *args: str) -> "subprocess.CompletedProcess[str]":
    """Run the `projections` sub-command app against `database_url`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    env |= {"ZS_DATABASE_URL": database_url, "COLUMNS": "200"}
    program = "from services.cli.projections import projections; projections()"
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of a Rich table."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()]


async def test_cli_status_and_rebuild(
    store: EventStore, runner: ProjectionRunner, database_url: str
) -> None:
    events = await append(store, mixed_figures(12, random.Random(10)))
    await runner.project(events[:5])

    status = await asyncio.to_thread(run_cli, database_url, "status")
    rebuilt = await asyncio.to_thread(run_cli, database_url, "rebuild", "figures")
    unknown = await asyncio.to_thread(run_cli, database_url, "rebuild", "nope")

    assert status.returncode == 0, status.stderr
    assert ["figures", "5", "12", "7"] in [row[:4] for row in table_rows(status.stdout)]
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "figures rebuilt up to position 12" in rebuilt.stdout
    assert unknown.returncode == 1
    assert "no projection named 'nope'" in unknown.stderr
