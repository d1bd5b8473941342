"""A three-node NATS JetStream cluster (R3 streams) losing a node, then its stream leader:
subscribers keep receiving, publishers retry through the election, and the whole pipeline ends
with exact accounting, an intact hash chain and every projection caught up."""

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncpg
import nats
import pytest
import structlog
from faststream.nats import NatsBroker
from nats.errors import Error as NatsError

from events.verify import verify_chain
from infra.broker import Transport, create_transport, running
from infra.broker.nats import stream_name
from services.bootstrap import Servers, services
from services.pipeline.channels import (
    INGEST_CHANNEL,
    INGEST_GROUP,
    Delivery,
    publish_envelopes,
    subscribe_ingest,
)
from services.pipeline.run import Part
from tests.factories import unique
from tests.integration.helpers import caught_up, eventually, settings_for
from tests.integration.nats_cluster import NatsCluster
from tests.integration.workload import account, make_workload, settled

pytestmark = pytest.mark.slow
FAILOVER_TIMEOUT_S = 60.0
"""Longest wait for the pipeline to make progress again after a node was killed."""
TEST_BOUND_S = 180.0
"""No test here runs longer."""
RECORDED_OR_REJECTED = (
    "SELECT (SELECT count(*) FROM store.events) + (SELECT count(*) FROM service.rejections)"
)
SLOWEST_PROJECTION = "SELECT coalesce(min(position), 0) FROM service.checkpoints"
DUPLICATE_RECORDS = """
SELECT count(*) FROM (SELECT 1 FROM store.events GROUP BY source, message_id HAVING count(*) > 1) d
"""

log = structlog.get_logger()


async def leader_of(cluster: NatsCluster, stream: str) -> str:
    """The node leading `stream` once there is one."""
    deadline = time.monotonic() + FAILOVER_TIMEOUT_S
    while (leader := await asyncio.to_thread(cluster.stream_leader, stream)) is None:
        assert time.monotonic() < deadline, f"{stream} has no leader"
        await asyncio.sleep(0.1)
    return leader


async def restart(cluster: NatsCluster, name: str, streams: Sequence[str]) -> float:
    """Start `name` again on its data and wait until it is a current replica of `streams`
    (so that losing another node keeps a quorum of up-to-date replicas); the seconds it took."""
    started = time.monotonic()
    await asyncio.to_thread(cluster.start, name)  # off the loop: the services keep running
    connection = await nats.connect(servers=cluster.url.split(","))
    js = connection.jetstream()

    async def current() -> bool:
        for stream in streams:
            with contextlib.suppress(NatsError, TimeoutError):
                info = await js.stream_info(stream)
                peers = info.cluster.replicas if info.cluster else None
                if (
                    info.cluster
                    and info.cluster.leader
                    and peers
                    and all(p.current and not p.offline for p in peers)
                ):
                    continue
            return False
        return True

    try:
        await eventually(current, f"{name} to catch up on {streams}", FAILOVER_TIMEOUT_S)
    finally:
        await connection.close()
    return time.monotonic() - started


def connected_node(cluster: NatsCluster, transport: Transport) -> str:
    """The node the transport's client is connected to."""
    assert isinstance(transport.broker, NatsBroker)
    port = transport.broker.connection.connected_url.port  # type: ignore[union-attr]
    return next(node.name for node in cluster.nodes if node.port == port)


class Collected(list[Delivery]):
    """An ingest handler that keeps what it got."""

    async def __call__(self, batch: Sequence[Delivery]) -> None:
        self.extend(batch)

    def bodies(self) -> set[bytes]:
        """The distinct bodies received."""
        return {delivery.body for delivery in self}


async def never_poisoned(delivery: Delivery, reason: str) -> None:
    """No message may fail here."""
    raise AssertionError(f"poisoned: {delivery} ({reason})")


async def test_a_group_keeps_receiving_when_its_node_and_then_the_stream_leader_die(
    nats_cluster: NatsCluster,
) -> None:
    channel, group = f"{unique('t')}.ingest", unique("g")
    stream = stream_name(channel)
    received = Collected()
    transport = create_transport(nats_cluster.url)
    subscribe_ingest(transport, received, never_poisoned, "c1", channel=channel, group=group,
                     redeliver_after_s=1.0)  # fmt: skip
    bodies = [json.dumps({"n": n}).encode() for n in range(600)]

    async with asyncio.timeout(TEST_BOUND_S), running(transport, watch_interval_s=0.5):
        await publish_envelopes(transport, bodies[:200], channel=channel)
        await eventually(lambda: received.bodies() >= set(bodies[:200]), within_s=30)
        info = await transport.broker.connection.jetstream().stream_info(stream)  # type: ignore[union-attr]
        assert info.config.num_replicas == 3

        victim = connected_node(nats_cluster, transport)  # the client must move elsewhere
        nats_cluster.kill(victim)
        await publish_envelopes(transport, bodies[200:400], channel=channel)
        await eventually(lambda: received.bodies() >= set(bodies[:400]), within_s=60)
        assert connected_node(nats_cluster, transport) != victim

        await restart(nats_cluster, victim, [stream])
        leader = await leader_of(nats_cluster, stream)
        nats_cluster.kill(leader)
        await publish_envelopes(transport, bodies[400:], channel=channel)
        await eventually(lambda: received.bodies() == set(bodies), within_s=60)
        assert await leader_of(nats_cluster, stream) != leader

    assert received.bodies() == set(bodies)


@dataclass
class Progress:
    """Samples of how many messages the pipeline has settled, to measure stalls."""

    samples: list[tuple[float, int]] = field(default_factory=list)

    def longest_stall_after(self, since: float, until: float) -> float:
        """The longest time between two increases of the count within [since, until]."""
        times = [t for (t, n), (_, before) in zip(self.samples[1:], self.samples, strict=False)
                 if n > before and since <= t <= until]  # fmt: skip
        marks = [since, *times]
        return max((b - a for a, b in itertools.pairwise(marks)), default=0.0)

    def count(self) -> int:
        """The latest count."""
        return self.samples[-1][1] if self.samples else 0


@contextlib.asynccontextmanager
async def sampling(connection: asyncpg.Connection) -> AsyncIterator[tuple[Progress, Progress]]:
    """Sample every 50 ms while the block runs: the messages settled by the ingest, and the
    position every projection has reached."""
    settled, projected = Progress(), Progress()

    async def sample() -> None:
        while True:
            now = time.monotonic()
            settled.samples.append((now, int(await connection.fetchval(RECORDED_OR_REJECTED))))
            projected.samples.append((now, int(await connection.fetchval(SLOWEST_PROJECTION))))
            await asyncio.sleep(0.05)

    task = asyncio.create_task(sample())
    try:
        yield settled, projected
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_the_pipeline_loses_nothing_when_a_node_and_then_the_ingest_stream_leader_die(
    nats_cluster: NatsCluster, database_url: str, owner_connection: asyncpg.Connection
) -> None:
    workload = make_workload(total=4_000, seed=11)
    setup, reports, corrections = workload.phases
    urls = Servers(database_url, nats_cluster.url)
    ingest_stream = stream_name(INGEST_CHANNEL)
    streams = [ingest_stream, "zs_events", "zs_rejected"]
    sampler = await asyncpg.connect(database_url)
    measured: dict[str, float] = {}

    async with (
        asyncio.timeout(TEST_BOUND_S),
        services(settings_for(urls), urls, set(Part), api=True) as pipeline,
        sampling(sampler) as (progress, projected),
    ):
        await publish_envelopes(pipeline.transport, setup.bodies)
        await eventually(lambda: settled(owner_connection, workload, 1), "the set-up")
        base = progress.count()

        # Reports: a node leading neither the ingest stream nor its consumer dies mid-stream
        # (the client's own node where possible: the client then reconnects to another).
        publishing = asyncio.create_task(publish_envelopes(pipeline.transport, reports.bodies))
        await eventually(lambda: progress.count() >= base + len(reports.bodies) // 4, "ingest")
        leader = await leader_of(nats_cluster, ingest_stream)
        assert isinstance(pipeline.transport.broker, NatsBroker)
        js = pipeline.transport.broker.connection.jetstream()
        consumer = await js.consumer_info(ingest_stream, INGEST_GROUP)
        leaders = {leader, consumer.cluster.leader if consumer.cluster else None}
        followers = [node.name for node in nats_cluster.nodes if node.name not in leaders]
        connected = connected_node(nats_cluster, pipeline.transport)  # then it must reconnect
        follower = connected if connected in followers else followers[0]
        killed_at, at_kill, projected_at_kill = (
            time.monotonic(),
            progress.count(),
            projected.count(),
        )
        nats_cluster.kill(follower)
        log.warning("killed a follower", node=follower, leader=leader, settled=at_kill,
                    connected=connected)  # fmt: skip
        await eventually(lambda: progress.count() > at_kill + 200, "progress without a follower",
                         FAILOVER_TIMEOUT_S)  # fmt: skip
        measured["follower_stall_s"] = progress.longest_stall_after(killed_at, time.monotonic())
        await eventually(lambda: projected.count() > projected_at_kill + 200,
                         "projection without it", FAILOVER_TIMEOUT_S)  # fmt: skip
        measured["follower_projection_stall_s"] = projected.longest_stall_after(
            killed_at, time.monotonic()
        )
        measured["follower_restart_s"] = await restart(nats_cluster, follower, streams)
        await publishing
        await eventually(lambda: settled(owner_connection, workload, 2), "the reports")

        # Corrections: the ingest stream's leader dies while they are published and ingested.
        publishing = asyncio.create_task(publish_envelopes(pipeline.transport, corrections.bodies))
        base = progress.count()
        await eventually(lambda: progress.count() >= base + 50, "corrections under way")
        leader = await leader_of(nats_cluster, ingest_stream)
        killed_at, at_kill = time.monotonic(), progress.count()
        nats_cluster.kill(leader)
        log.warning("killed the ingest stream leader", node=leader, settled=at_kill)
        new_leader = await leader_of(nats_cluster, ingest_stream)
        measured["leader_election_s"] = time.monotonic() - killed_at
        await publishing
        await eventually(lambda: settled(owner_connection, workload, 3), "the corrections",
                         FAILOVER_TIMEOUT_S)  # fmt: skip
        measured["leader_stall_s"] = progress.longest_stall_after(killed_at, time.monotonic())
        await eventually(lambda: caught_up(pipeline.store), "the projections")
        measured["leader_projection_stall_s"] = projected.longest_stall_after(
            killed_at, time.monotonic()
        )

        await account(owner_connection, workload)
        assert await owner_connection.fetchval(DUPLICATE_RECORDS) == 0
        assert (await verify_chain(pipeline.store)).intact
    await sampler.close()

    print(f"\nfailover measurements: {measured}, new ingest leader {new_leader}")
    assert new_leader != leader
