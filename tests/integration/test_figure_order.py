"""The figure in force is the one the source published last (`occurred_at`, then position): a
report recorded after its correction never overrides it, whether a database outage, a retry or
two ingest replicas made it arrive late; a rebuild gives the same rows as the live fold."""

import asyncio
import json
import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from events.store import EventStore
from events.verify import verify_chain
from infra.roles import DbRole
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.bootstrap import Servers, services
from services.pipeline.channels import publish_envelopes
from services.pipeline.ingest import Ingestor
from services.pipeline.run import Part
from tests.factories import envelope, figure_envelope, unique
from tests.integration.helpers import (
    api_app,
    api_client,
    caught_up,
    eventually,
    ignore,
    record,
    settings_for,
    wipe_broker,
)
from tests.integration.outage import CuttableProxy
from tests.integration.processes import ZS

REPORTED = "2022-10-27T08:00:00Z"
CORRECTED = "2023-02-27T08:00:00Z"
JOBCENTERS = 5
MONTHS = [f"{year}-{month:02d}" for year in range(2018, 2023) for month in range(1, 13)]
OUTAGE_S = 8.0
"""Longer than the redelivery time of the tests' services (1 s)."""
CHUNK = 20
"""Messages per publish while the pipeline runs, so batches interleave with the outage."""
FIGURE_COLUMNS = """
SELECT jobcenter_id, indicator, breakdown, period, value, numerator, denominator, status,
       revision_count, position, recorded_at, occurred_at, last_reason, flags
FROM views.figures ORDER BY jobcenter_id, indicator, breakdown, period
"""
IN_FORCE = """
SELECT jobcenter_id, period, value, status, revision_count, last_reason
FROM views.figures WHERE jobcenter_id = ANY($1::text[])
"""
POSITIONS = """
SELECT data->>'jobcenter_id' AS jobcenter_id, data->>'period' AS period, type, position
FROM store.events WHERE type IN ('MonthlyFigureReported', 'MonthlyFigureCorrected')
"""


def registered(jobcenter_id: str) -> dict[str, Any]:
    """A JobcenterRegistered envelope."""
    data = {"jobcenter_id": jobcenter_id, "name": "Kreis", "land": "DE-HE", "kind": "gE"}
    return envelope("JobcenterRegistered", data)


def report(jobcenter_id: str, period: str, value: int) -> dict[str, Any]:
    """The source's first, preliminary publication of a month."""
    return figure_envelope(jobcenter_id, period, value=value) | {"occurred_at": REPORTED}


def correction(jobcenter_id: str, period: str, value: int) -> dict[str, Any]:
    """The month's later, final publication."""
    data = {"value": value, "status": "final", "reason": "late registrations"}
    return figure_envelope(jobcenter_id, period, **data) | {
        "type": "MonthlyFigureCorrected", "occurred_at": CORRECTED,
    }  # fmt: skip


def pairs(jobcenters: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """A report and its correction (one more) of every month of every jobcenter."""
    return [
        (report(jc, period, 100 + i), correction(jc, period, 101 + i))
        for jc in jobcenters
        for i, period in enumerate(MONTHS)
    ]


def expected(jobcenters: list[str]) -> set[tuple[object, ...]]:
    """Every month at its correction, revised once."""
    return {
        (jc, period, 101 + i, "final", 1, "late registrations")
        for jc in jobcenters
        for i, period in enumerate(MONTHS)
    }


async def in_force(
    connection: asyncpg.Connection, jobcenters: list[str]
) -> set[tuple[object, ...]]:
    """The rows in force of `jobcenters`' figures (value as int)."""
    rows = await connection.fetch(IN_FORCE, jobcenters)
    return {(r[0], r[1], int(r[2]), *r[3:]) for r in rows}


async def overtaken(connection: asyncpg.Connection) -> int:
    """How many months had their correction recorded before their report."""
    positions: dict[tuple[str, str], dict[str, int]] = {}
    for row in await connection.fetch(POSITIONS):
        positions.setdefault((row[0], row[1]), {})[row[2]] = row[3]
    return sum(p["MonthlyFigureCorrected"] < p["MonthlyFigureReported"] for p in positions.values())


def encoded(envelopes: list[dict[str, Any]]) -> list[bytes]:
    """Envelopes as the bytes an upstream system publishes."""
    return [json.dumps(e).encode() for e in envelopes]


async def test_a_correction_recorded_before_its_report_stays_in_force_live_and_rebuilt(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    jc = unique("jc")
    await record(store, [
        registered(jc),
        correction(jc, "2022-07", 66),                     # 2: recorded first, published last
        report(jc, "2022-07", 64),                         # 3: the late report
        report(jc, "2022-08", 70),                         # 4
        correction(jc, "2022-08", 71),                     # 5: the usual order
        report(jc, "2022-09", 80), report(jc, "2022-09", 81),  # 6, 7: equal times: 7 wins
    ])  # fmt: skip
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        live = (await client.get("/figures", params={"jobcenter_id": jc})).json()["items"]
        published = await client.get(
            "/figures", params={"jobcenter_id": jc, "as_published": "2022-12-01T00:00:00Z"}
        )
        vintages = await client.get("/figures/vintages", params={
            "jobcenter_id": jc, "indicator": "integrations", "breakdown": "total",
            "period": "2022-07",
        })  # fmt: skip
    before = await owner_connection.fetch(FIGURE_COLUMNS)

    await ProjectionRunner(store.pool, store, PROJECTIONS).rebuild("figures")

    assert [(f["period"], f["value"], f["status"], f["revision_count"], f["position"],
             f["occurred_at"]) for f in live] == [
        ("2022-07", 66, "final", 1, 2, CORRECTED),
        ("2022-08", 71, "final", 1, 5, CORRECTED),
        ("2022-09", 81, "preliminary", 1, 7, REPORTED),
    ]  # fmt: skip
    assert [(f["period"], f["value"], f["revision_count"]) for f in published.json()["items"]] == [
        ("2022-07", 64, 0), ("2022-08", 70, 0), ("2022-09", 81, 1)
    ]  # fmt: skip
    assert [v["position"] for v in vintages.json()["items"]] == [3, 2]  # the one in force last
    assert await owner_connection.fetch(FIGURE_COLUMNS) == before


@pytest.mark.slow
async def test_pairs_through_a_database_outage_end_at_their_corrections(
    database_url: str, broker_url: str, owner_connection: asyncpg.Connection
) -> None:
    await wipe_broker(broker_url)
    jobcenters = [unique("jc") for _ in range(JOBCENTERS)]
    published = pairs(jobcenters)
    # Mostly the usual order; every seventh month the source's report comes in late (one
    # replica holds its batch through the outage, so the outage alone reorders nothing).
    bodies = encoded([registered(jc) for jc in jobcenters]) + encoded(
        [e for i, (r, c) in enumerate(published) for e in ((c, r) if i % 7 == 0 else (r, c))]
    )
    proxy = CuttableProxy(database_url)
    async with proxy.serving():
        urls = Servers(proxy.proxied_url, broker_url)
        async with services(settings_for(urls), urls, set(Part), api=True) as running:

            async def publish() -> None:
                for start in range(0, len(bodies), CHUNK):
                    await publish_envelopes(running.transport, bodies[start : start + CHUNK])
                    await asyncio.sleep(0.05)

            async def a_third_recorded() -> bool:
                return await running.store.last_position() >= len(bodies) // 3

            async def all_recorded() -> bool:
                return await running.store.last_position() == len(bodies)

            publishing = asyncio.create_task(publish())
            await eventually(a_third_recorded, "a third of the pairs before the outage")
            proxy.cut()
            await asyncio.sleep(OUTAGE_S)
            proxy.restore()
            await publishing
            await eventually(all_recorded, "every pair recorded after the outage")
            await eventually(lambda: caught_up(running.store), "the projections")
            verdict = await verify_chain(running.store)

    assert await overtaken(owner_connection) >= len(range(0, len(published), 7))
    assert await owner_connection.fetchval("SELECT count(*) FROM service.rejections") == 0
    assert await owner_connection.fetchval(
        "SELECT count(DISTINCT (source, message_id)) FROM store.events"
    ) == len(bodies)
    assert await in_force(owner_connection, jobcenters) == expected(jobcenters)
    assert verdict.intact


class IngestReplicas:
    """`zs ingest` processes of their own, each a replica in the ingest consumer group."""

    def __init__(self, urls: Servers, ingest_url: str, logs: Path, count: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZS_")} | {
            "ZS_INGEST_DATABASE_URL": ingest_url, "ZS_BROKER_URL": urls.broker_url,
            "ZS_REDELIVER_AFTER_S": "1", "ZS_LOG_LEVEL": "info",
            "ZS_BROKER_TRUSTED_NETWORK": "true",  # the pairs go to the shared zs.ingest
        }  # fmt: skip
        self.logs = [logs / f"ingest-{n}.log" for n in range(count)]
        self.processes = [
            subprocess.Popen(
                [ZS, "ingest"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
            )
            for log in self.logs
        ]

    def all_running(self) -> bool:
        """Whether every replica has subscribed (it says so in its log)."""
        return all(b"services running" in log.read_bytes() for log in self.logs)

    def stop(self) -> list[int]:
        """SIGTERM every replica; their exit codes."""
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=30) for process in self.processes]


@pytest.mark.slow
async def test_two_ingest_replicas_of_shuffled_pairs_end_at_the_corrections(
    database_url: str,
    broker_url: str,
    service_urls: dict[DbRole, str],
    owner_connection: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    await wipe_broker(broker_url)
    urls = Servers(database_url, broker_url)
    jobcenters = [unique("jc") for _ in range(JOBCENTERS)]
    messages = [e for pair in pairs(jobcenters) for e in pair]
    random.Random(9).shuffle(messages)
    replicas = IngestReplicas(urls, service_urls[DbRole.INGEST], tmp_path, 2)
    try:
        async with services(
            settings_for(urls), urls, {Part.RELAY, Part.PROJECT}, api=True
        ) as running:
            await eventually(replicas.all_running, "both ingest replicas to subscribe", 60)
            await publish_envelopes(
                running.transport, encoded([registered(jc) for jc in jobcenters])
            )

            async def recorded(count: int) -> bool:
                return await running.store.last_position() == count

            # registered before their figures: nothing is rejected for an unknown jobcenter
            await eventually(lambda: recorded(JOBCENTERS), "the jobcenters")
            bodies = encoded(messages)
            for start in range(0, len(bodies), CHUNK):
                await publish_envelopes(running.transport, bodies[start : start + CHUNK])
                await asyncio.sleep(0.02)
            await eventually(lambda: recorded(JOBCENTERS + len(bodies)), "every pair recorded")
            await eventually(lambda: caught_up(running.store), "the projections")
            verdict = await verify_chain(running.store)
    finally:
        exit_codes = replicas.stop()

    assert await overtaken(owner_connection) > 0  # else the test would prove nothing
    assert await owner_connection.fetchval("SELECT count(*) FROM service.rejections") == 0
    assert await in_force(owner_connection, jobcenters) == expected(jobcenters)
    assert verdict.intact
    assert exit_codes == [0, 0]
