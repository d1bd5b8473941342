"""Rebuilding a projection into fresh tables and swapping them in: identical to the live tables,
while ingest and live projection go on, refused twice at once; `zs projections status|rebuild`."""

import asyncio
import os
import random
import subprocess
import sys
from decimal import Decimal

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.envelope import InvalidEvent
from events.store import EventStore
from projections.attainment.calculation import attainment
from projections.engine.runner import REBUILD_LOCK_CLASS, ProjectionError, ProjectionRunner
from projections.figures.projection import FIGURES
from projections.registry import PROJECTIONS
from services.replay import agreement_events
from tests.benchmarks.national import store_events
from tests.conftest import TEST_DATA_DIR
from tests.factories import figure_event
from tests.integration.figures_log import (
    TABLE_DEFINITION,
    append,
    assert_whole,
    checksum,
    mixed_figures,
)
from tests.integration.helpers import eventually


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


@pytest.mark.slow
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
        await eventually(lambda: len(checkpoints) > 0, "the ingest to go on")
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


def run_cli(database_url: str, *args: str) -> "subprocess.CompletedProcess[str]":
    """Run the `projections` sub-command app against `database_url`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    env |= {"ZS_DATABASE_URL": database_url, "ZS_DATA_DIR": str(TEST_DATA_DIR), "COLUMNS": "200"}
    program = "from services.cli.projections import projections; projections()"
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of a Rich table."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()]


@pytest.mark.slow
async def test_cli_status_and_rebuild(
    store: EventStore, runner: ProjectionRunner, database_url: str
) -> None:
    events = await append(store, mixed_figures(12, random.Random(10)))
    await runner.project(events[:5])

    status = await asyncio.to_thread(run_cli, database_url, "status")
    rebuilt = await asyncio.to_thread(run_cli, database_url, "rebuild", "figures")
    every = await asyncio.to_thread(run_cli, database_url, "rebuild")
    unknown = await asyncio.to_thread(run_cli, database_url, "rebuild", "nope")

    assert status.returncode == 0, status.stderr
    assert ["figures", "5", "12", "7"] in [row[:4] for row in table_rows(status.stdout)]
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "figures rebuilt up to position 12" in rebuilt.stdout
    assert every.returncode == 0, every.stderr
    assert [line.split(" in ")[0] for line in every.stdout.splitlines() if " up to " in line] == [
        f"{projection.name} rebuilt up to position 12" for projection in PROJECTIONS
    ]
    assert unknown.returncode == 1
    assert "no projection named 'nope'" in unknown.stderr


async def test_events_stored_before_the_precision_bound_still_project_and_rebuild(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    """Numbers the ingest now rejects (`number_precision`) but recorded before that bound
    existed: the bound applies at ingest, so history still decodes, projects and rebuilds."""
    old = [
        figure_event(jobcenter_id="06437", period="2022-07", value=12345678901234567890123),
        figure_event(jobcenter_id="06437", period="2022-08", value=0.1234567),
    ]
    with pytest.raises(InvalidEvent):  # as the ingest judges them today
        CATALOGUE.decode(old[0].type, old[0].schema_version, old[0].data)
    await store.append(old)
    events = [e async for page in store.read_all() for e in page]
    await runner.project(events)
    live = await checksum(owner_connection)

    assert await runner.rebuild("figures") == 2
    assert await checksum(owner_connection) == live
    values = await owner_connection.fetch("SELECT value FROM views.figures ORDER BY period")
    assert [row["value"] for row in values] == [
        Decimal(12345678901234567890123), Decimal("0.1234567")]  # fmt: skip
