"""Loading the scale's years into one system for the rebuild, as-of and query phases."""

import asyncio
import json
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from tests.benchmarks.harness import (
    BACKLOG_LIMIT,
    INGEST_STREAM,
    PUBLISH_CHUNK,
    Config,
    Report,
    guarded,
    zs_executable,
)
from tests.benchmarks.national import encode, is_hostile, national_workload
from tests.benchmarks.phases_loaded import phase_api, phase_asof, phase_query, phase_rebuild
from tests.benchmarks.system import (
    Progress_,
    System,
    Timeline,
    follow,
    read_progress,
    running_system,
)


async def load_years(config: Config, system: System, report: Report) -> Progress_:
    """Publish the scale's loaded years through the real ingest with back-pressure; wait until
    settled and projected (bounded)."""
    scale = config.scale
    client = aioredis.from_url(system.broker_url)
    connection = await asyncpg.connect(system.database_url)
    published, valid, chunk = 0, 0, list[bytes]()
    began = time.perf_counter()
    try:
        for message in national_workload(scale.jobcenters, scale.loaded_years, config.seed):
            valid += not is_hostile(message)
            chunk.append(encode(message))
            if len(chunk) < PUBLISH_CHUNK:
                continue
            await xadd_all(client, chunk)
            published += len(chunk)
            chunk = []
            while published - settled(await read_progress(connection)) > BACKLOG_LIMIT:  # noqa: ASYNC110 polls a database
                await asyncio.sleep(0.5)
        await xadd_all(client, chunk)
        published += len(chunk)
        timeline = Timeline()
        timeout_s = 120 + published / 200 * config.timeout_factor
        last = await follow(connection, published, began, timeout_s, timeline)
    finally:
        await client.aclose()
        await connection.close()
    elapsed = timeline.projected_s or timeline.settled_s or time.perf_counter() - began
    report.details["load"] = {
        "path": "real ingest (XADD zs.ingest)", "years": scale.loaded_years,
        "published": published, "valid": valid, "head": last.head, "rejected": last.rejected,
        "settled_s": timeline.settled_s, "projected_s": timeline.projected_s,
        "checkpoints": last.checkpoints,
    }  # fmt: skip
    config.console.print(
        f"loaded {scale.loaded_years} year(s): {published:,} published, head {last.head:,}, "
        f"settled after {timeline.settled_s} s, projected after {timeline.projected_s} s"
    )
    report.add(f"load: {scale.loaded_years} year(s) through the ingest, settled+projected", "—",
               f"{published / elapsed:,.0f} msg/s ({elapsed:.1f} s, {published:,} msgs)",
               rate=published / elapsed)  # fmt: skip
    return last


def settled(progress: Progress_) -> int:
    """Messages recorded or rejected."""
    return progress.head + progress.rejected


async def xadd_all(client: "aioredis.Redis", bodies: Sequence[bytes]) -> None:
    """One pipelined round trip of XADDs."""
    if not bodies:
        return
    async with client.pipeline(transaction=False) as pipe:
        for body in bodies:
            pipe.xadd(INGEST_STREAM, {"data": body})
        await pipe.execute()


async def phase_loaded(config: Config, report: Report, wanted: set[str]) -> None:
    """rebuild, asof and query on one system loaded with the scale's years: through the real
    ingest (rebuilds while the caught-up system serves), or appended directly before `zs up`
    starts (rebuilds then, on the idle database)."""
    rebuilt = False

    async def direct(database_url: str, env: dict[str, str]) -> None:
        nonlocal rebuilt
        await load_direct(config, database_url, env, report)
        if "rebuild" in wanted:
            rebuilt = True
            await guarded(config, report, "rebuild",
                          lambda: phase_rebuild(config, env, database_url, report,
                                                config.scale.loaded_years))  # fmt: skip

    prepare = direct if config.load == "direct" else None
    async with running_system(config, "loaded", prepare) as system:
        if config.load == "direct":
            last = await wait_projected(config, system, report)
        else:
            last = await load_years(config, system, report)
        for name, run in (
            (
                "rebuild",
                lambda: phase_rebuild(
                    config, system.env, system.database_url, report, config.scale.loaded_years
                ),
            ),
            ("asof", lambda: phase_asof(config, system, report, last.head)),
            ("query", lambda: phase_query(config, system, report)),
            ("api", lambda: phase_api(config, system, report)),
        ):
            if name in wanted and not (name == "rebuild" and rebuilt):
                await guarded(config, report, name, run)


async def load_direct(
    config: Config, database_url: str, env: dict[str, str], report: Report
) -> None:
    """`zs migrate`, then the valid messages appended with `EventStore.append` in batches of
    1,000, each checked with the catalogue and the ingest's domain fold first."""
    from events.catalogue import parse_envelope
    from events.envelope import InvalidEvent
    from events.log import NewEvent
    from events.recording import new_event
    from events.rules import KnownEntities
    from events.store import EventStore, create_pool

    await asyncio.to_thread(
        subprocess.run, [zs_executable(), "migrate"], env=env, capture_output=True,
        timeout=300, check=True,
    )  # fmt: skip
    scale = config.scale
    known, today = KnownEntities(), datetime.now(UTC).date()
    pool = await create_pool(database_url, role="zs_ingest")
    began, appended, skipped, batch = time.perf_counter(), 0, 0, list[NewEvent]()
    try:
        store = EventStore(pool)
        for message in national_workload(scale.jobcenters, scale.loaded_years, config.seed):
            if is_hostile(message):
                skipped += 1
                continue
            try:
                envelope, event = parse_envelope(json.loads(encode(message)))
                known.check(event, today)
            except InvalidEvent as invalid:
                raise RuntimeError(f"generated message refused: {invalid}") from None
            known.apply(event)
            channel = f"zs.ingest.{envelope.source}"
            batch.append(new_event(envelope, event, f"broker:source-{envelope.source}", channel))
            if len(batch) == PUBLISH_CHUNK:
                await store.append(batch)
                appended, batch = appended + len(batch), []
        if batch:
            await store.append(batch)
            appended += len(batch)
    finally:
        await pool.close()
    seconds = time.perf_counter() - began
    report.details["load"] = {
        "path": "direct EventStore.append, batches of 1,000", "years": scale.loaded_years,
        "appended": appended, "hostile_skipped": skipped, "seconds": seconds,
    }  # fmt: skip
    report.add(f"load: {scale.loaded_years} year(s) appended directly (validated)", "—",
               f"{appended / seconds:,.0f} ev/s ({seconds:.1f} s, {appended:,} events)",
               rate=appended / seconds)  # fmt: skip


async def wait_projected(config: Config, system: System, report: Report) -> Progress_:
    """After a direct load: wait (bounded) until every projection reached the head."""
    connection = await asyncpg.connect(system.database_url)
    try:
        head = (await read_progress(connection)).head
        timeline = Timeline()
        timeout_s = 120 + head / 200 * config.timeout_factor
        last = await follow(connection, head, time.perf_counter(), timeout_s, timeline)
    finally:
        await connection.close()
    report.details["load"]["projected_s"] = timeline.projected_s
    return last
