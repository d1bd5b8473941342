"""Crash safety: the ingest, relay and projector processes are killed with SIGKILL at random
moments and restarted; the store and the views end identical to a run without kills, and no
message is missing or doubled."""

import asyncio
import random
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from events.store import EventStore, create_pool
from events.verify import verify_chain
from infra.broker import create_transport
from infra.database import create_database, drop_database
from infra.roles import DbRole
from services.bootstrap import Servers, services
from services.pipeline.channels import publish_envelopes
from services.pipeline.run import Part
from tests.integration.helpers import caught_up, eventually, settings_for, wipe_broker
from tests.integration.processes import Processes
from tests.integration.workload import Workload, account, checksums, make_workload, settled

KILLS = 8
MESSAGES = 12_000
FROZEN_S = 5.0
"""Longer than the services' redelivery time (1 s), so the other replica takes over."""


async def chaos(processes: Processes, rng: random.Random) -> None:
    """Kill a service at random moments, each kind at least twice."""
    victims = [*list(Part) * 2, *rng.choices(list(Part), k=KILLS - 2 * len(Part))]
    rng.shuffle(victims)
    for part in victims:
        await asyncio.sleep(rng.uniform(0.3, 1.5))
        processes.kill_and_restart(part)


async def recorded_some(store: EventStore) -> bool:
    """Whether the store holds an event yet."""
    return await store.last_position() > 0


async def publish_all(urls: Servers, connection: asyncpg.Connection, workload: Workload,
                      store: EventStore) -> None:  # fmt: skip
    """Publish the workload phase by phase and wait until it is recorded and projected."""
    transport = create_transport(urls.broker_url)
    await transport.connect()
    try:
        for number, phase in enumerate(workload.phases, start=1):
            await publish_envelopes(transport, phase.bodies)
            await eventually(lambda n=number: settled(connection, workload, n),  # type: ignore[misc]
                             f"phase {number} to settle")  # fmt: skip
        await eventually(lambda: caught_up(store), "the projection to catch up")
    finally:
        await transport.close()


@pytest.fixture
async def reference_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    """A second fresh database, for the run without kills."""
    name = f"zs_ref_{uuid.uuid4().hex[:12]}"
    yield await create_database(server_url, name, template=template_database)
    await drop_database(server_url, name)


@pytest.mark.slow
async def test_killed_services_end_identical_to_a_run_without_kills(
    database_url: str,
    service_urls: dict[DbRole, str],
    reference_url: str,
    broker_url: str,
    tmp_path: Path,
) -> None:
    workload = make_workload(total=MESSAGES, seed=11)

    await wipe_broker(broker_url)
    reference = Servers(reference_url, broker_url)
    async with services(settings_for(reference), reference, set(Part), api=True) as running:
        connection = await asyncpg.connect(reference_url)
        await publish_all(reference, connection, workload, running.store)
        expected = await checksums(connection, workload)
        await connection.close()

    await wipe_broker(broker_url)
    urls = Servers(database_url, broker_url)
    pool = await create_pool(service_urls[DbRole.API], role="zs_api")
    connection = await asyncpg.connect(database_url)
    processes = Processes(urls, service_urls, tmp_path)
    try:
        killing = asyncio.create_task(chaos(processes, random.Random(5)))
        await publish_all(urls, connection, workload, EventStore(pool))
        await killing
        await eventually(lambda: caught_up(EventStore(pool)), "the projection after the kills")
        await account(connection, workload)
        assert await checksums(connection, workload) == expected
        assert (await verify_chain(EventStore(pool))).intact
        assert all(count >= 2 for count in processes.kills.values())
    finally:
        exit_codes = processes.stop()
        await connection.close()
        await pool.close()
    assert exit_codes == [0, 0, 0]


@pytest.mark.slow
async def test_a_frozen_ingest_replica_loses_and_doubles_nothing(
    database_url: str, service_urls: dict[DbRole, str], broker_url: str, tmp_path: Path
) -> None:
    """SIGSTOP one of two ingest replicas mid-stream for longer than the redelivery time: the
    other takes over its pending messages; once thawed, the frozen one settles the same
    messages again; every message still ends in exactly one fate."""
    workload = make_workload(total=4_000, seed=13)
    await wipe_broker(broker_url)
    urls = Servers(database_url, broker_url)
    pool = await create_pool(service_urls[DbRole.API], role="zs_api")
    connection = await asyncpg.connect(database_url)
    processes = Processes(urls, service_urls, tmp_path)
    second_ingest = processes.start(Part.INGEST)
    try:
        store = EventStore(pool)
        publishing = asyncio.create_task(publish_all(urls, connection, workload, store))
        await eventually(lambda: recorded_some(store), "the stream to flow")  # freeze mid-stream
        processes.running[Part.INGEST].send_signal(signal.SIGSTOP)
        await asyncio.sleep(FROZEN_S)
        processes.running[Part.INGEST].send_signal(signal.SIGCONT)
        await publishing
        await account(connection, workload)
        assert (await verify_chain(EventStore(pool))).intact
    finally:
        processes.running[Part.INGEST].send_signal(signal.SIGCONT)
        exit_codes = processes.stop()
        second_ingest.send_signal(signal.SIGTERM)
        exit_codes.append(second_ingest.wait(timeout=30))
        await connection.close()
        await pool.close()
    # The thawed replica may be ended by the signal itself (-15) while it tears down its loop;
    # the others stop cleanly.
    assert exit_codes[1:] == [0, 0, 0]
    assert exit_codes[0] in (0, -signal.SIGTERM)
