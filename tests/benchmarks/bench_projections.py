"""Projection throughput: live catch-up and rebuild of each projection over a national workload.

Run: `python -m tests.benchmarks.bench_projections [--jobcenters 404] [--years 1] [--out F]`
against ZS_DATABASE_URL (required: a PostgreSQL server the run may create a database on). The
workload (`tests.benchmarks.national`) is appended straight to a fresh store; then each
projection catches up from 0 on its own (events/s over the events of the store), and each is
rebuilt in a child process of its own, whose peak RSS is its `resource.getrusage` maximum.
"""

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from events.store import EventStore, create_pool
from infra.database import create_database, drop_database
from infra.settings import Settings
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.bootstrap import prepare_database
from tests.benchmarks.national import store_events

SERVICE_ROLE = "zs_projector"
APPEND_ROLE = "zs_ingest"
APPEND_BATCH = 5000


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB (Linux reports KiB). A forked child starts
    from its parent's figure, so the child also reports `high_water_mb`."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def high_water_mb() -> float:
    """The peak RSS of this program since its exec (Linux `VmHWM`), in MB; 0 elsewhere."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


async def prepare(server_url: str, jobcenters: int, years: int) -> tuple[str, int, float]:
    """A fresh database with the workload appended; (url, events, seconds to append)."""
    url = await create_database(server_url, f"zs_bench_{uuid.uuid4().hex[:12]}")
    await prepare_database(url)  # migrations and the read models' tables
    pool = await create_pool(url, role=APPEND_ROLE)
    try:
        store = EventStore(pool)
        started, batch = time.perf_counter(), []
        for event in store_events(jobcenters, years):
            batch.append(event)
            if len(batch) == APPEND_BATCH:
                await store.append(batch)
                batch = []
        await store.append(batch)
        return url, await store.last_position(), time.perf_counter() - started
    finally:
        await pool.close()


async def catch_up(url: str, events: int) -> dict[str, Any]:
    """Each projection's catch-up from 0, one after the other: seconds and events/s."""
    pool = await create_pool(url, role=SERVICE_ROLE)
    try:
        store, found = EventStore(pool), {}
        for projection in PROJECTIONS:
            started = time.perf_counter()
            await ProjectionRunner(pool, store, [projection]).catch_up()
            seconds = time.perf_counter() - started
            found[projection.name] = {"seconds": round(seconds, 2),
                                      "events_per_s": round(events / seconds)}  # fmt: skip
            print(f"live catch-up {projection.name}: {seconds:.1f} s, {events / seconds:,.0f}/s")
        return found
    finally:
        await pool.close()


async def rebuild(url: str, name: str) -> dict[str, Any]:
    """Rebuild one projection in this process: seconds, position and peak RSS."""
    pool = await create_pool(url, role=SERVICE_ROLE)
    try:
        store = EventStore(pool)
        started = time.perf_counter()
        position = await ProjectionRunner(pool, store, PROJECTIONS).rebuild(name)
        seconds = time.perf_counter() - started
        return {"seconds": round(seconds, 2), "events_per_s": round(position / seconds),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "high_water_mb": round(high_water_mb(), 1)}  # fmt: skip
    finally:
        await pool.close()


async def rebuild_in_child(url: str, name: str) -> dict[str, Any]:
    """`rebuild` in a child process, so its peak RSS is its own."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.benchmarks.bench_projections", "--rebuild", name,
        "--database-url", url, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"rebuild of {name} failed ({child.returncode})")
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    print(f"rebuild {name}: {result}")
    return result


async def run(server_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; the figures as a dict."""
    url, events, appended = await prepare(server_url, args.jobcenters, args.years)
    print(f"appended {events:,} events in {appended:.1f} s")
    try:
        live = await catch_up(url, events)
        rebuilds = {p.name: await rebuild_in_child(url, p.name) for p in PROJECTIONS}
    finally:
        if not args.keep:
            await drop_database(server_url, url.rsplit("/", 1)[-1])
    total = sum(r["seconds"] for r in rebuilds.values())
    return {
        "jobcenters": args.jobcenters, "years": args.years, "events": events,
        "append_seconds": round(appended, 1), "live_catch_up": live, "rebuild": rebuilds,
        "rebuild_total_seconds": round(total, 2),
        "rebuild_peak_rss_mb": max(r["peak_rss_mb"] for r in rebuilds.values()),
        "rebuild_high_water_mb": max(r["high_water_mb"] for r in rebuilds.values()),
    }  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="Projection catch-up and rebuild throughput.")
    parser.add_argument("--jobcenters", type=int, default=404)
    parser.add_argument("--years", type=int, default=1, help="agreement years (figures: +1)")
    parser.add_argument("--out", help="write the figures as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--rebuild", help=argparse.SUPPRESS)  # the child's task
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print and optionally write the figures; 0 on success."""
    args = parse_args(argv)
    if args.rebuild:
        print(json.dumps(asyncio.run(rebuild(args.database_url, args.rebuild))))
        return 0
    server_url = Settings().database_url
    if not server_url:
        raise SystemExit("set ZS_DATABASE_URL to a PostgreSQL server")
    figures = asyncio.run(run(server_url, args))
    print(json.dumps(figures, indent=2))
    if args.out:
        with open(args.out, "w") as out:
            json.dump(figures, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
