"""Fault tests on servers of the test's own: Redis killed and restarted on its append-only file,
Redis restarted empty while the projector lags, NATS JetStream restarted empty, PostgreSQL
restarted mid-stream, and each service process frozen (SIGSTOP) in turn. Each ends with exact
accounting (recorded + duplicates + rejections == published, less what the broker lost, and
that named) and a verified chain."""

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from events.store import EventStore, create_pool
from events.verify import verify_chain
from infra.broker import create_transport
from infra.database import create_database
from infra.roles import DbRole
from services.bootstrap import Servers
from services.pipeline.channels import (
    EVENTS_CHANNEL,
    INGEST_CHANNEL,
    INGEST_GROUP,
    publish_envelopes,
)
from services.pipeline.relay import relay_checkpoint
from services.pipeline.run import Part, services
from tests.integration.helpers import caught_up, eventually, settings_for, wipe_broker
from tests.integration.outage import nats_server, postgres_server, redis_server
from tests.integration.processes import Processes
from tests.integration.workload import Workload, account, make_workload, settled

FREEZE_S = float(os.environ.get("ZS_TEST_FREEZE_S", "2"))
"""How long each service stays frozen: longer than the redelivery time (1 s) by default; CI
runs it once more with 23 s."""
REDIS_DOWN_S = 1.0
QUIET_S = 2.0
"""How long a settled pipeline is watched for messages going round again."""
START_TIME = "SELECT pg_postmaster_start_time()"
COUNT_REJECTIONS = "SELECT count(*) FROM service.rejections"
DATABASE_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                 asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError)  # fmt: skip


FEEDING = {Part.INGEST, Part.RELAY}
"""The parts that take messages in and relay them, without the projector."""


class ExactPublisher:
    """Publishes to Redis' `zs.ingest` as a careful upstream does through a broker restart: each
    entry with an id of its own (`n-1`), retried until Redis has it; a retry of an entry Redis
    already holds is refused by Redis ("equal or smaller"), so nothing is published twice."""

    def __init__(self, url: str) -> None:
        self.client = redis.from_url(url)
        self.published = 0

    async def publish(self, bodies: Sequence[bytes], pause_every: int = 100) -> None:
        for body in bodies:
            await self.add(self.published + 1, body)
            self.published += 1
            if self.published % pause_every == 0:
                await asyncio.sleep(0.02)  # paced like a real upstream, so the crash is mid-stream

    async def add(self, number: int, body: bytes) -> None:
        while True:
            try:
                await self.client.xadd(INGEST_CHANNEL, {"data": body}, id=f"{number}-1")
                return
            except ResponseError as error:
                if "equal or smaller" in str(error):
                    return  # stored before the connection broke
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError):
                await asyncio.sleep(0.1)


async def tolerant(check: Callable[[], Awaitable[bool]]) -> bool:
    """`check()`, False while the database is unreachable."""
    try:
        return await check()
    except DATABASE_DOWN:
        return False


async def quiet(pool: asyncpg.Pool, store: EventStore) -> tuple[int, int]:
    """The store's head and the rejection count, after `QUIET_S` in which neither may move."""
    before = (await store.last_position(), await pool.fetchval(COUNT_REJECTIONS))
    await asyncio.sleep(QUIET_S)
    after = (await store.last_position(), await pool.fetchval(COUNT_REJECTIONS))
    assert after == before, "messages went round again after everything was settled"
    return after


async def publish_phases(
    publish: Callable[[Sequence[bytes]], Awaitable[None]],
    pool: asyncpg.Pool,
    workload: Workload,
    phases: range | None = None,
) -> None:
    """Publish each phase (of `phases`, numbered from 1; default all) once the one before is
    settled (the order corrections need)."""
    for number in phases or range(1, len(workload.phases) + 1):
        await publish(workload.phases[number - 1].bodies)
        await eventually(lambda n=number: tolerant(lambda: settled(pool, workload, n)),  # type: ignore[misc]
                         f"phase {number} to settle")  # fmt: skip


@pytest.mark.slow
async def test_redis_killed_and_restarted_on_its_append_only_file_loses_and_doubles_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """`appendonly yes` with `appendfsync always`: Redis SIGKILLed while messages are published
    and consumed, started again on its AOF; every message ends in exactly one fate."""
    workload = make_workload(total=1_500, seed=21)
    with redis_server(tmp_path, appendfsync="always") as server:
        urls = Servers(database_url, server.url)
        async with services(settings_for(urls), urls, set(Part), api=True) as running:
            pool, publisher = running.store.pool, ExactPublisher(server.url)
            crashed_at: list[int] = []

            async def crash_mid_stream() -> None:
                first = len(workload.phases[0].bodies) + 300
                await eventually(lambda: at_least(running.store, first), "some figures")
                crashed_at.append(publisher.published)
                server.kill()
                await asyncio.sleep(REDIS_DOWN_S)
                server.start()

            crashing = asyncio.create_task(crash_mid_stream())
            await publish_phases(publisher.publish, pool, workload)
            await crashing
            await eventually(lambda: caught_up(running.store), "the projections")
            await eventually(lambda: relay_level(running.store), "the relay")
            await quiet(pool, running.store)
            await account(pool, workload)
            assert await running.transport.pending(INGEST_CHANNEL, INGEST_GROUP) == 0
            verdict = await verify_chain(running.store)
        await publisher.client.aclose()

    assert 0 < crashed_at[0] < workload.published, "Redis was not killed mid-stream"
    assert verdict.intact


async def answer_the_pending_read(url: str) -> None:
    """Put an entry that is no event on `zs.events`: it answers the read the frozen projector
    left waiting, so the events relayed next reach no projector before Redis forgets them (as
    when the projector is busy applying a batch), and the projector, skipping it, is not
    woken."""
    client = redis.from_url(url)
    await client.xadd(EVENTS_CHANNEL, {"data": b"not a recorded event"})
    await client.aclose()


async def rejections(pool: asyncpg.Pool, count: int) -> bool:
    """Whether `count` rejections (or more) are stored."""
    return bool(await pool.fetchval(COUNT_REJECTIONS) >= count)


async def relay_level(store: EventStore) -> bool:
    """Whether the relay has published up to the store's head."""
    return await relay_checkpoint(store) == await store.last_position()


@pytest.mark.slow
async def test_redis_restarted_empty_while_the_projector_lags(
    database_url: str, tests_url: str, service_urls: dict[DbRole, str], tmp_path: Path
) -> None:
    """Redis without persistence restarted while the projector (a process of its own) is frozen
    with relayed events unread on `zs.events`, and while messages wait on `zs.ingest` with no
    ingest running: the projections still reach the store's head without any new event; the
    waiting messages are the broker's loss, nothing else is missing, nothing goes round."""
    workload = make_workload(total=1_500, seed=22)
    _, reports, corrections = workload.phases
    lost = make_workload(total=200, seed=23)  # would be recorded or rejected, had Redis kept it
    with redis_server(tmp_path, appendfsync=None) as server:
        urls = Servers(database_url, server.url)
        pool = await create_pool(tests_url)
        store = EventStore(pool)
        projector = Processes(urls, service_urls, tmp_path, parts=[Part.PROJECT], log_level="info")
        try:
            async with services(
                settings_for(urls), urls, {Part.INGEST, Part.RELAY}, api=True
            ) as running:
                transport = running.transport
                await publish_phases(lambda bodies: publish_envelopes(transport, bodies), pool,
                                     workload, range(1, 2))  # fmt: skip
                await eventually(lambda: projector.has_logged(Part.PROJECT, "services running"))
                await asyncio.sleep(0.5)  # past its catch-up at start: following the store
                await eventually(lambda: caught_up(store), "the projector to follow")
                await eventually(lambda: relay_level(store), "the relay")
                projector.freeze(Part.PROJECT)
                await answer_the_pending_read(server.url)
                await publish_envelopes(running.transport, reports.bodies)
                await eventually(lambda: settled(pool, workload, 2), "the reports to settle")
                await eventually(lambda: relay_level(store), "the relay to publish the reports")
            publisher = create_transport(server.url)  # upstream goes on; no ingest is running
            await publisher.broker.connect()
            await publish_envelopes(publisher, [b for p in lost.phases for b in p.bodies])
            await publisher.broker.stop()

            server.kill()
            server.start()  # empty: no AOF, no snapshot
            projector.thaw(Part.PROJECT)
            head = await store.last_position()
            await eventually(lambda: caught_up(store), "the projections to reach the head", 30)
            assert await store.last_position() == head, "caught up only because of a new event"

            async with services(
                settings_for(urls), urls, {Part.INGEST, Part.RELAY}, api=True
            ) as running:
                await publish_envelopes(running.transport, corrections.bodies)
                await eventually(lambda: settled(pool, workload, 3), "the corrections to settle")
                await eventually(lambda: caught_up(store), "the projections")
                await quiet(pool, store)
                assert await running.transport.pending(INGEST_CHANNEL, INGEST_GROUP) == 0
            await account(pool, workload)
            lost_recorded = "SELECT count(*) FROM store.events WHERE source = $1"
            assert await pool.fetchval(lost_recorded, lost.source) == 0
            verdict = await verify_chain(store)
        finally:
            exit_codes = projector.stop()
            await pool.close()

    assert verdict.intact
    assert exit_codes == [0]


@pytest.mark.slow
async def test_nats_restarted_empty_stores_a_rejection_whose_sequence_repeats(
    database_url: str, tmp_path: Path
) -> None:
    """NATS restarted with its JetStream store wiped: stream sequences start at 1 again, so the
    same hostile bytes published first before and first after the restart arrive with the same
    sequence; both are stored as rejections of their own, and valid messages still record."""
    hostile = b"\xff\xfe the same hostile bytes twice"
    with nats_server(tmp_path) as server:
        urls = Servers(database_url, server.url)
        async with services(settings_for(urls), urls, set(Part), api=True) as running:
            pool = running.store.pool
            workload = make_workload(total=300, seed=24)
            setup, reports, corrections = workload.phases
            await publish_envelopes(running.transport, [hostile, *setup.bodies])
            await eventually(lambda: settled(pool, workload, 1), "the first messages")
            await eventually(lambda: rejections(pool, 1), "the first hostile message")

            server.stop()
            server.wipe()
            server.start()

            async def consuming_again() -> bool:
                try:
                    return await running.transport.pending(INGEST_CHANNEL, INGEST_GROUP) == 0
                except Exception:  # the consumer (its stream) is not declared again yet
                    return False

            await eventually(consuming_again, "the ingest consumer declared again", 60)
            await publish_envelopes(running.transport, [hostile, *reports.bodies])
            await eventually(lambda: settled(pool, workload, 2), "the reports")
            await publish_envelopes(running.transport, corrections.bodies)
            await eventually(lambda: settled(pool, workload, 3), "the corrections")
            expected_rejections = 2 + sum(phase.rejected for phase in workload.phases)
            await eventually(lambda: rejections(pool, expected_rejections), "every rejection")
            await eventually(lambda: caught_up(running.store), "the projections")
            await quiet(pool, running.store)
            rows = await pool.fetch("SELECT delivery_id, body FROM service.rejections "
                                    "WHERE body = $1 ORDER BY id", hostile)  # fmt: skip
            total_rejected = await pool.fetchval(COUNT_REJECTIONS)
            recorded = await pool.fetchval("SELECT count(*) FROM store.events")
            verdict = await verify_chain(running.store)

    assert [row["delivery_id"].split("@")[0] for row in rows] == ["1", "1"]
    assert rows[0]["delivery_id"] != rows[1]["delivery_id"]
    assert total_rejected == expected_rejections
    assert recorded == sum(len(phase.recorded) for phase in workload.phases)
    assert verdict.intact


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
            await quiet(pool, store)
            await account(pool, workload)
            started.append(await pool.fetchval(START_TIME))
            verdict = await verify_chain(store)

    assert started[0] < started[1], "PostgreSQL was not restarted"
    assert 0 < restarted_at[0] < sum(len(phase.recorded) for phase in workload.phases)
    assert verdict.intact


async def at_least(store: EventStore, position: int) -> bool:
    """Whether the store holds `position` events or more."""
    return await store.last_position() >= position


@pytest.mark.slow
async def test_each_service_frozen_in_turn_loses_and_doubles_nothing(
    database_url: str,
    tests_url: str,
    service_urls: dict[DbRole, str],
    broker_url: str,
    tmp_path: Path,
) -> None:
    """SIGSTOP for `FREEZE_S` (longer than the redelivery time), then SIGCONT, of one of two
    ingest replicas, the relay and the projector in turn while a workload is published: each
    message still ends in exactly one fate, the relay and the projections reach the head."""
    await wipe_broker(broker_url)
    workload = make_workload(total=1_500, seed=26)
    urls = Servers(database_url, broker_url)
    pool = await create_pool(tests_url)
    store = EventStore(pool)
    processes = Processes(urls, service_urls, tmp_path)
    second_ingest = processes.start(Part.INGEST)
    publisher = create_transport(broker_url)
    await publisher.broker.connect()
    frozen: list[Part] = []
    try:

        async def freeze_in_turn() -> None:
            for part in (Part.INGEST, Part.RELAY, Part.PROJECT):
                processes.freeze(part)
                frozen.append(part)
                await asyncio.sleep(FREEZE_S)
                processes.thaw(part)

        chunk_pause_s = 3 * FREEZE_S / (workload.published / 100)

        async def publish(bodies: Sequence[bytes]) -> None:
            for start in range(0, len(bodies), 100):  # spread over the three freezes
                await publish_envelopes(publisher, bodies[start : start + 100])
                await asyncio.sleep(chunk_pause_s)

        await publish_phases(publish, pool, workload, range(1, 2))
        await eventually(lambda: caught_up(store), "every service to run")
        freezing = asyncio.create_task(freeze_in_turn())
        await publish_phases(publish, pool, workload, range(2, 4))
        await freezing
        await eventually(lambda: caught_up(store), "the projections after the freezes")
        await eventually(lambda: relay_level(store), "the relay after the freezes")
        await quiet(pool, store)
        await account(pool, workload)
        verdict = await verify_chain(store)
    finally:
        await publisher.broker.stop()
        exit_codes = processes.stop()
        second_ingest.terminate()
        exit_codes.append(second_ingest.wait(timeout=30))
        await pool.close()

    assert verdict.intact
    assert frozen == [Part.INGEST, Part.RELAY, Part.PROJECT]
    assert exit_codes[1:] == [0, 0, 0]
    assert exit_codes[0] in (0, -15)  # a thawed process may end by the signal while tearing down
