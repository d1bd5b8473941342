"""PostgreSQL restarted mid-stream on a server of the test's own: exact accounting (recorded +
duplicates + rejections == published) and a verified chain."""

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from events.verify import verify_chain
from infra.database import create_database
from services.bootstrap import Servers, services
from services.pipeline.channels import publish_envelopes
from services.pipeline.run import Part
from tests.integration.faults import at_least, publish_phases, quiet, tolerant
from tests.integration.helpers import caught_up, eventually, settings_for
from tests.integration.outage import postgres_server, redis_server
from tests.integration.workload import account, make_workload

START_TIME = "SELECT pg_postmaster_start_time()"


@pytest.mark.slow
async def test_postgres_restarted_mid_stream_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """`pg_ctl restart -m fast` on the services' database while messages are published and
    consumed: every session ends; the services hold their batches and go on once it is back.
    (On Redis only: `test_outages.py` holds the database away from both brokers.)"""
    workload = make_workload(total=1_500, seed=25)
    with postgres_server() as postgres, redis_server(tmp_path, appendfsync=None) as broker:
        database_url = await create_database(postgres.url, "zs_restart")
        urls = Servers(database_url, broker.url)
        async with services(settings_for(urls), urls, set(Part), api=True) as running:
            store, pool = running.store, running.store.pool
            restarted_at: list[int] = []
            started: list[datetime] = []

            async def restart_mid_stream() -> None:
                first = len(workload.phases[0].bodies) + 300
                await eventually(lambda: tolerant(lambda: at_least(store, first)), "some figures")
                restarted_at.append(await store.last_position())
                started.append(await pool.fetchval(START_TIME))
                await asyncio.to_thread(postgres.restart)

            restarting = asyncio.create_task(restart_mid_stream())

            async def publish(bodies: Sequence[bytes]) -> None:
                for start in range(0, len(bodies), 100):  # paced, so the restart is mid-stream
                    await publish_envelopes(running.transport, bodies[start : start + 100])
                    await asyncio.sleep(0.02)

            await publish_phases(publish, pool, workload)
            await restarting
            await eventually(lambda: tolerant(lambda: caught_up(store)), "the projections")
            await quiet(pool, store, running.transport)
            await account(pool, workload)
            started.append(await pool.fetchval(START_TIME))
            verdict = await verify_chain(store)

    assert started[0] < started[1], "PostgreSQL was not restarted"
    assert 0 < restarted_at[0] < sum(len(phase.recorded) for phase in workload.phases)
    assert verdict.intact
