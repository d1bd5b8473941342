"""`zs up` started again on a store whose projection changed its version: the projector says it
runs once connected, so `zs up` comes up however long the rebuild takes (longer than
`ZS_START_TIMEOUT_S` here), and `/health` shows that projection lagging until its rebuild is
swapped in, while the others follow the store."""

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from events.store import EventStore, create_pool
from infra.embedded import free_port
from infra.roles import DbRole
from projections.engine.runner import ProjectionRunner
from projections.figures.projection import FIGURES
from projections.registry import PROJECTIONS
from tests.factories import figure_event
from tests.integration.helpers import eventually, waiting_for_a_lock
from tests.integration.processes import banner, environment, start, stop

LOCK_CHECKPOINT = "SELECT position FROM service.checkpoints WHERE projection = $1 FOR UPDATE"
OLD_VERSION = "UPDATE service.projection_versions SET version = $2 WHERE projection = $1"
VERSION = "SELECT version FROM service.projection_versions WHERE projection = $1"


@pytest.mark.slow
@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
async def test_up_stays_up_while_a_changed_projection_rebuilds_longer_than_the_start_limit(
    tmp_path: Path,
    store: EventStore,
    service_urls: dict[DbRole, str],
    database_url: str,
    owner_connection: asyncpg.Connection,
    broker_url: str,
) -> None:
    pool = await create_pool(service_urls[DbRole.PROJECTOR], role=DbRole.PROJECTOR.group)
    try:
        runner = ProjectionRunner(pool, EventStore(pool), PROJECTIONS)
        await runner.ensure_tables()
        await store.append([figure_event() for _ in range(20)])
        await runner.catch_up()
    finally:
        await pool.close()
    # The live figures table was built by an older version: the projector rebuilds it on start,
    # and its swap waits for the checkpoint row this test holds, as long as the test wants.
    await owner_connection.execute(OLD_VERSION, FIGURES.name, FIGURES.version - 1)
    holding = owner_connection.transaction()
    await holding.start()
    await owner_connection.fetchval(LOCK_CHECKPOINT, FIGURES.name)
    watcher = await asyncpg.connect(database_url)
    logins = {role.setting: url for role, url in service_urls.items()}
    env = environment(
        tmp_path / ".zs", free_port(), ZS_BROKER_URL=broker_url, ZS_START_TIMEOUT_S="20",
        ZS_HEALTH_MAX_LAG_EVENTS="5", ZS_API_WORKERS="1", **logins,
    )  # fmt: skip
    process = start(env, tmp_path / "up.log", "--no-demo")
    try:
        announced = banner(process)
        assert announced.get("broker"), (tmp_path / "up.log").read_text()[-3000:]
        await store.append([figure_event() for _ in range(10)])
        bearer = {"Authorization": f"Bearer {announced['token']}"}
        async with httpx.AsyncClient(base_url=announced["API"], headers=bearer) as client:

            async def health() -> dict[str, Any]:
                answer: dict[str, Any] = (await client.get("/health")).json()
                return answer

            async def only_figures_lag() -> bool:
                answer = await health()
                others = {p.name: 30 for p in PROJECTIONS if p is not FIGURES}
                return answer["projections"] == others | {FIGURES.name: 20}

            await eventually(only_figures_lag, "every projection but figures at the head")
            assert await waiting_for_a_lock(watcher)  # the rebuild waits to swap
            lagging = await health()
            await holding.rollback()

            async def all_level() -> bool:
                return (await health())["status"] == "ok"

            await eventually(all_level, "the rebuilt figures swapped in, at the head")
            level = await health()
        assert process.poll() is None  # `zs up` stayed up throughout
    finally:
        await watcher.close()
        code = stop(process)

    assert lagging["status"] == "degraded"
    assert f"{FIGURES.name} lags 10 events (limit 5)" in lagging["reasons"]
    assert level == {
        "status": "ok", "position": 30, "projections": {p.name: 30 for p in PROJECTIONS},
    }  # fmt: skip
    assert await owner_connection.fetchval(VERSION, FIGURES.name) == FIGURES.version
    assert code == 0
