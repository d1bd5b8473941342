"""Broker restarts on servers of the test's own: Redis killed and restarted on its append-only
file, Redis restarted empty while the projector lags, NATS JetStream restarted empty. Each ends
with exact accounting (recorded + duplicates + rejections == published, less what the broker
lost, and that named) and a verified chain."""

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from events.store import EventStore, create_pool
from events.verify import verify_chain
from infra.broker import create_transport
from infra.roles import DbRole
from services.bootstrap import Servers, services
from services.pipeline.channels import (
    EVENTS_CHANNEL,
    INGEST_CHANNEL,
    INGEST_GROUP,
    publish_envelopes,
)
from services.pipeline.run import Part
from tests.integration.faults import (
    COUNT_REJECTIONS,
    at_least,
    publish_phases,
    quiet,
    rejections,
    relay_level,
)
from tests.integration.helpers import caught_up, eventually, settings_for
from tests.integration.outage import nats_server, redis_server
from tests.integration.processes import Processes
from tests.integration.workload import account, make_workload, settled

REDIS_DOWN_S = 1.0


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
            await quiet(pool, running.store, running.transport)
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
                await eventually(lambda: caught_up(store), "the projector to follow")
                await eventually(lambda: relay_level(store), "the relay")
                projector.freeze(Part.PROJECT)
                await answer_the_pending_read(server.url)
                await publish_envelopes(running.transport, reports.bodies)
                await eventually(lambda: settled(pool, workload, 2), "the reports to settle")
                await eventually(lambda: relay_level(store), "the relay to publish the reports")
            publisher = create_transport(server.url)  # upstream goes on; no ingest is running
            await publisher.connect()
            await publish_envelopes(publisher, [b for p in lost.phases for b in p.bodies])
            await publisher.close()

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
                await quiet(pool, store, running.transport)
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
            await quiet(pool, running.store, running.transport)
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
