"""Every benchmark in one run, one table, the figures as JSON (`make bench`, issue 8).

`python -m tests.benchmarks.run [--scale quick|full] [--only append,e2e,...,backlog,hostile]`

The system is driven only through its public interfaces: `zs up --no-demo` and
`zs projections rebuild NAME` as subprocesses, `XADD zs.ingest * data <json>` (redis-py), the
HTTP API, and SQL reads of `store.events`, `service.checkpoints` and `service.rejections`.
Servers: PostgreSQL from ZS_BENCH_DATABASE_URL, else ZS_DATABASE_URL, else the local server;
Redis from ZS_BENCH_BROKER_URL, else redis://127.0.0.1:6379/14 (only that DB is flushed). Each
phase gets a fresh database, dropped afterwards, and stops every process it started, also on
failure or timeout. An optional bearer token (ZS_BENCH_TOKEN or --token) is sent with every
API request.

Phases:
- append: `bench_append` (our store, raw COPY, eventsourcing) at batch 1, 100, 1,000.
- e2e: one national year published as fast as possible; time until the store recorded every
  valid message and until every projection reached the head; projection lag sampled every 0.2 s.
- rebuild, asof, query: on one system loaded with the scale's years (full: ten) through the
  real ingest, `zs projections rebuild` of each projection (seconds, events/s, peak RSS),
  as-of attainment latencies, and 20 concurrent clients on three endpoints (wrk if installed).
- backlog, hostile: `bench_backlog` (`zs ingest` alone): a backlog drained against the live
  rate, and canary latencies in a hostile mix.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import redis.asyncio as aioredis
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from tests.benchmarks.national import HOSTILE_SOURCE, encode, is_hostile, national_workload

PHASES = ("append", "e2e", "rebuild", "asof", "query", "backlog", "hostile")
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
DEFAULT_OUT = Path(".zs/bench/results.json")
INGEST_STREAM = "zs.ingest"
PUBLISH_CHUNK = 1_000
SAMPLE_EVERY_S = 0.2
HEALTH_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
BACKLOG_LIMIT = 100_000
"""While loading many years, publishing pauses when this many messages are not settled yet."""
WRK_SCRIPT = """
local paths = {}
local counter = 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  counter = math.random(#paths)
end
function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Scale:
    """How big each phase is."""

    name: str
    jobcenters: int
    e2e_years: int
    loaded_years: int
    append_events: int
    query_seconds: float
    asof_requests: int
    backlog: int
    """Messages waiting in `zs.ingest` before the ingest starts (`bench_backlog`)."""
    backlog_live: int
    """Messages of the live run that gives the ingest's normal rate."""
    backlog_reclaim: int
    """Messages left pending by a dead consumer, to be taken over."""
    hostile: int
    """Messages of the hostile mix (one in 50 a canary)."""


SCALES = {
    "quick": Scale("quick", 40, 1, 1, 2_000, 3.0, 100, 50_000, 20_000, 20_000, 5_000),
    "full": Scale("full", 404, 1, 10, 20_000, 10.0, 400, 1_000_000, 50_000, 100_000, 20_000),
}


@dataclass
class Figure:
    """One row of the table."""

    name: str
    goal: str
    value: str
    passed: bool | None = None
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """What the phases measured, and what went wrong."""

    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, goal: str, value: str, passed: bool | None = None,
            **numbers: Any) -> None:  # fmt: skip
        """Add a row."""
        self.figures.append(Figure(name, goal, value, passed, numbers))


@dataclass(frozen=True)
class Config:
    """Command line and environment."""

    scale: Scale
    only: tuple[str, ...]
    database_url: str
    broker_url: str
    token: str | None
    seed: int
    out: Path
    timeout_factor: float
    load: str
    console: Console


# --- helpers -------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zs_executable() -> str:
    """The `zs` command next to this interpreter, else on PATH."""
    local = Path(sys.executable).parent / "zs"
    if local.exists():
        return str(local)
    found = shutil.which("zs")
    if found is None:
        raise RuntimeError("the `zs` command is not installed (make .venv/.installed)")
    return found


def percentile(values: Iterable[float], share: float) -> float:
    """Nearest-rank percentile; 0 when there are none."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def auth_headers(token: str | None) -> dict[str, str]:
    """The bearer header when a token is given."""
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class Workload:
    """Encoded bodies of a national workload, with the expected fates."""

    bodies: list[bytes]
    valid: int
    hostile: int


def build_workload(jobcenters: int, years: int, seed: int) -> Workload:
    """All bodies in publication order (not timed)."""
    bodies, hostile = [], 0
    for message in national_workload(jobcenters, years, seed):
        hostile += is_hostile(message)
        bodies.append(encode(message))
    return Workload(bodies, len(bodies) - hostile, hostile)


# --- the system under test -----------------------------------------------------------------


@dataclass
class System:
    """A running `zs up --no-demo` on its own database and Redis DB."""

    database_url: str
    broker_url: str
    api: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    token: str | None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the subprocess's output."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@contextlib.asynccontextmanager
async def fresh_database(config: Config, label: str) -> AsyncIterator[str]:
    """A new database for one phase, dropped (sessions ended) on exit."""
    name = f"zs_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(config.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(config.database_url, name)
    finally:
        admin = await asyncpg.connect(config.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def flush_broker(broker_url: str) -> None:
    """Empty the benchmark's Redis DB (only that one)."""
    client = aioredis.from_url(broker_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def spawn(
    command: list[str], env: dict[str, str], log_path: Path, cwd: str
) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own (so that it can be stopped as a group)."""
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd,
        )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the process group we started, then SIGKILL if it does not end in time."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)


Prepare = Callable[[str, dict[str, str]], Awaitable[None]]
"""Run on the fresh database (its URL, the services' environment) before `zs up` starts."""


@contextlib.asynccontextmanager
async def running_system(
    config: Config, label: str, prepare: Prepare | None = None
) -> AsyncIterator[System]:
    """Fresh database and Redis DB, `zs up --no-demo` until /health answers 200; all undone on
    exit (the log is kept next to the results)."""
    await flush_broker(config.broker_url)
    async with fresh_database(config, label) as database_url:
        with tempfile.TemporaryDirectory(prefix=f"zs-bench-{label}-") as data_dir:
            port = free_port()
            env = {
                **os.environ,
                "ZS_DATABASE_URL": database_url,
                "ZS_BROKER_URL": config.broker_url,
                "ZS_HTTP_HOST": "127.0.0.1",
                "ZS_HTTP_PORT": str(port),
                "ZS_DATA_DIR": data_dir,
                "ZS_LOG_FORMAT": "json",
                "ZS_LOG_LEVEL": "warning",
                # the load is XADDed to the shared zs.ingest on a loopback broker
                "ZS_BROKER_TRUSTED_NETWORK": "true",
            }
            log_path = config.out.parent / f"zs-up-{label}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            if prepare is not None:
                await prepare(database_url, env)
            token = config.token or local_token(env)
            process = spawn([zs_executable(), "up", "--no-demo"], env, log_path, data_dir)
            system = System(database_url, config.broker_url, f"http://127.0.0.1:{port}", env,
                            process, log_path, token)  # fmt: skip
            try:
                await wait_healthy(system)
                yield system
            finally:
                stop(process)
                await flush_broker(config.broker_url)


def local_token(env: Mapping[str, str]) -> str:
    """An auditor's token signed with the key of the system's data folder (created there)."""
    issued = subprocess.run(
        [zs_executable(), "token", "issue", "--role", "auditor"], env=dict(env),
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return issued.stdout.strip()


async def wait_healthy(system: System) -> None:
    """Poll GET /health until 200; fail early when the process died."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    async with httpx.AsyncClient(headers=auth_headers(system.token), timeout=2.0) as http:
        while time.monotonic() < deadline:
            if system.process.poll() is not None:
                raise RuntimeError(f"zs up exited early:\n{system.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{system.api}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"zs up not healthy after {HEALTH_TIMEOUT_S:.0f} s:\n{system.log_tail()}")


@dataclass
class Progress_:
    """Where the pipeline stands: head, settled rejections, each projection's checkpoint."""

    head: int
    rejected: int
    checkpoints: dict[str, int]

    def lags(self) -> dict[str, int]:
        """Head minus checkpoint, per projection."""
        return {name: self.head - position for name, position in self.checkpoints.items()}


async def read_progress(connection: asyncpg.Connection) -> Progress_:
    """One snapshot of the store's head, the rejections and the checkpoints."""
    head = await connection.fetchval("SELECT coalesce(max(position), 0) FROM store.events")
    rejected = await connection.fetchval("SELECT count(*) FROM service.rejections")
    rows = await connection.fetch("SELECT projection, position FROM service.checkpoints")
    return Progress_(int(head), int(rejected), {r["projection"]: int(r["position"]) for r in rows})


async def publish(broker_url: str, bodies: Sequence[bytes]) -> None:
    """Pipelined `XADD zs.ingest * data <body>`, `PUBLISH_CHUNK` per round trip."""
    client = aioredis.from_url(broker_url)
    try:
        for start in range(0, len(bodies), PUBLISH_CHUNK):
            async with client.pipeline(transaction=False) as pipe:
                for body in bodies[start : start + PUBLISH_CHUNK]:
                    pipe.xadd(INGEST_STREAM, {"data": body})
                await pipe.execute()
    finally:
        await client.aclose()


@dataclass
class Timeline:
    """Samples taken while a workload goes through the pipeline."""

    samples: list[tuple[float, Progress_]] = field(default_factory=list)
    settled_s: float | None = None
    projected_s: float | None = None
    published_s: float | None = None


async def follow(
    connection: asyncpg.Connection, published: int, began: float, timeout_s: float,
    timeline: Timeline,
) -> Progress_:  # fmt: skip
    """Sample until every published message is settled and every projection reached the head
    (or the timeout); fill `timeline`."""
    deadline = began + timeout_s
    while True:
        now = time.perf_counter()
        snapshot = await read_progress(connection)
        timeline.samples.append((now - began, snapshot))
        if timeline.settled_s is None and snapshot.head + snapshot.rejected >= published:
            timeline.settled_s = now - began
        if (
            timeline.settled_s is not None
            and snapshot.checkpoints
            and min(snapshot.checkpoints.values()) >= snapshot.head
        ):
            timeline.projected_s = now - began
            return snapshot
        if now > deadline:
            return snapshot
        await asyncio.sleep(SAMPLE_EVERY_S)


async def unexpected_rejections(connection: asyncpg.Connection) -> list[dict[str, Any]]:
    """Rejections of messages that were not meant to be hostile (by code, with examples)."""
    rows = await connection.fetch(
        """SELECT code, count(*) AS n, min(message_id) AS example, min(reason) AS reason
           FROM service.rejections WHERE source IS NOT NULL AND source <> $1
           GROUP BY code ORDER BY n DESC""",
        HOSTILE_SOURCE,
    )
    return [dict(row) for row in rows]


# --- phases --------------------------------------------------------------------------------


def phase_append(config: Config, report: Report) -> None:
    """bench_append's three writers at batch 1, 100, 1,000."""
    from tests.benchmarks import bench_append

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        results = asyncio.run(
            bench_append.benchmark(config.database_url, config.scale.append_events, progress)
        )
    rows = []
    for result in results:
        store, copy, library = (result.rates[name] for name in bench_append.WRITER_NAMES)
        ratio = store / library
        goal = 1.0 if result.batch_size == 1 else 1.5
        report.add(
            f"append batch {result.batch_size:,}: store ÷ eventsourcing", f"≥ {goal:.1f}",
            f"{ratio:.2f}  ({store:,.0f} vs {library:,.0f} ev/s; COPY {copy:,.0f})",
            ratio >= goal, ratio=ratio, store=store, eventsourcing=library, copy=copy,
        )  # fmt: skip
        rows.append({"batch": result.batch_size, "events": result.events, **result.rates})
    report.details["append"] = rows


def profiled(config: Config, system: System, label: str) -> subprocess.Popen[bytes] | None:
    """With `ZS_BENCH_PROFILE=1`: py-spy recording `zs up` and its child processes as
    collapsed stacks, `profile-<label>.txt` next to the results (stop it to write the file)."""
    if not os.environ.get("ZS_BENCH_PROFILE"):
        return None
    profile = config.out.parent / f"profile-{label}.txt"
    found = Path(sys.executable).parent / "py-spy"
    command = [str(found) if found.exists() else "py-spy", "record", "--pid",
               str(system.process.pid), "--subprocesses", "--format", "raw", "--rate", "50",
               "--output", str(profile)]  # fmt: skip
    return spawn(command, system.env, profile.with_suffix(".log"), str(config.out.parent))


async def phase_e2e(config: Config, report: Report) -> None:
    """One national year through the running system, as fast as the broker takes it."""
    scale = config.scale
    workload = build_workload(scale.jobcenters, scale.e2e_years, config.seed)
    published = len(workload.bodies)
    timeout_s = 120 + published / 200 * config.timeout_factor
    config.console.print(
        f"e2e: {published:,} messages ({workload.valid:,} valid) from {scale.jobcenters} "
        f"jobcenters, {scale.e2e_years} year(s); timeout {timeout_s:.0f} s"
    )
    async with running_system(config, "e2e") as system:
        connection = await asyncpg.connect(system.database_url)
        profiler = profiled(config, system, "e2e")
        try:
            timeline = Timeline()
            began = time.perf_counter()
            publishing = asyncio.create_task(publish(system.broker_url, workload.bodies))
            followed = asyncio.create_task(
                follow(connection, published, began, timeout_s, timeline)
            )
            await publishing
            timeline.published_s = time.perf_counter() - began
            last = await followed
            unexpected = await unexpected_rejections(connection)
        finally:
            if profiler is not None:
                await asyncio.to_thread(stop, profiler)
            await connection.close()
    publish_rate = published / timeline.published_s
    lags = [max(s.lags().values(), default=0) for _, s in timeline.samples]
    per_projection = {
        name: {
            "p50": percentile((s.lags().get(name, 0) for _, s in timeline.samples), 0.5),
            "p99": percentile((s.lags().get(name, 0) for _, s in timeline.samples), 0.99),
        }
        for name in last.checkpoints
    }
    missing = workload.valid - last.head
    details: dict[str, Any] = {
        "published": published, "valid": workload.valid, "hostile": workload.hostile,
        "published_s": timeline.published_s, "settled_s": timeline.settled_s,
        "projected_s": timeline.projected_s, "head": last.head, "rejected": last.rejected,
        "checkpoints": last.checkpoints, "lag_per_projection": per_projection,
        "unexpected_rejections": unexpected, "samples": len(timeline.samples),
    }  # fmt: skip
    report.details["e2e"] = details
    report.add("e2e: publish rate (XADD, pipelined)", "—", f"{publish_rate:,.0f} msg/s",
               rate=publish_rate)  # fmt: skip
    if timeline.settled_s is None:
        report.add("e2e: ingest (all settled)", "—", "timed out", False)
    else:
        rate = published / timeline.settled_s
        report.add("e2e: ingest (all recorded or rejected)", "—",
                   f"{rate:,.0f} msg/s ({timeline.settled_s:.1f} s)", rate=rate)  # fmt: skip
    if timeline.projected_s is None:
        behind = {name: lag for name, lag in last.lags().items() if lag}
        report.add("e2e: end to end (projections at head)", "≥ 10,000 msg/s",
                   f"timed out after {timeout_s:.0f} s; behind: {behind}", False)  # fmt: skip
    else:
        rate = published / timeline.projected_s
        report.add("e2e: end to end (projections at head)", "≥ 10,000 msg/s",
                   f"{rate:,.0f} msg/s ({timeline.projected_s:.1f} s)", rate >= 10_000,
                   rate=rate)  # fmt: skip
    report.add("e2e: projection lag p50 / p99 (events, worst projection)", "—",
               f"{percentile(lags, 0.5):,.0f} / {percentile(lags, 0.99):,.0f}",
               p50=percentile(lags, 0.5), p99=percentile(lags, 0.99))  # fmt: skip
    wrongly = sum(int(row["n"]) for row in unexpected)
    report.add("e2e: valid messages rejected / not recorded", "0 / 0",
               f"{wrongly:,} / {missing:,}", wrongly == 0 and missing == 0)  # fmt: skip


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


def run_rebuild(env: dict[str, str], name: str, timeout_s: float) -> dict[str, Any]:
    """`zs projections rebuild NAME` in a subprocess: seconds, exit code, peak RSS."""
    command = [zs_executable(), "projections", "rebuild", name]
    timed = Path("/usr/bin/time")
    if timed.exists():
        command = [str(timed), "-v", *command]
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(process)
        raise TimeoutError(f"rebuild of {name} took more than {timeout_s:.0f} s") from None
    seconds = time.perf_counter() - began
    text = err.decode(errors="replace")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    rss_mb = int(match.group(1)) / 1024 if match else None
    if process.returncode != 0:
        raise RuntimeError(f"rebuild of {name} failed ({process.returncode}): {text[-2000:]}")
    return {"seconds": seconds, "rss_mb": rss_mb, "output": out.decode(errors="replace").strip()}


def projection_names(env: dict[str, str]) -> list[str]:
    """The projections `zs projections status` lists (first column of its table)."""
    done = subprocess.run([zs_executable(), "projections", "status"], env=env,
                          capture_output=True, timeout=120, check=True)  # fmt: skip
    names = []
    for line in done.stdout.decode(errors="replace").splitlines():
        match = re.match(r"^\W*([a-z][a-z0-9_]*)\s*[│|┃]", line)
        if match and match.group(1) != "projection":
            names.append(match.group(1))
    return names


async def phase_rebuild(
    config: Config, env: dict[str, str], database_url: str, report: Report
) -> None:
    """Rebuild every projection, one after another, each in a `zs projections rebuild`."""
    names = await asyncio.to_thread(projection_names, env)
    connection = await asyncpg.connect(database_url)
    try:
        if not names:
            rows = await connection.fetch("SELECT projection FROM service.checkpoints ORDER BY 1")
            names = [row["projection"] for row in rows]
        head = int(await connection.fetchval("SELECT coalesce(max(position), 0) FROM store.events"))
    finally:
        await connection.close()
    if not names:
        raise RuntimeError("no projections listed by `zs projections status`")
    timeout_s = 60 + head / 500 * config.timeout_factor
    results = {}
    for name in names:
        config.console.print(f"rebuild {name} ({head:,} events)")
        result = await asyncio.to_thread(run_rebuild, env, name, timeout_s)
        result["events_per_s"] = head / result["seconds"]
        results[name] = result
        rss = f"{result['rss_mb']:.0f} MB" if result["rss_mb"] is not None else "n/a"
        report.add(f"rebuild {name}", "—",
                   f"{result['seconds']:.1f} s, {result['events_per_s']:,.0f} ev/s, RSS {rss}",
                   seconds=result["seconds"], events_per_s=result["events_per_s"],
                   rss_mb=result["rss_mb"])  # fmt: skip
    total = sum(r["seconds"] for r in results.values())
    peak = max((r["rss_mb"] or 0.0) for r in results.values())
    years = config.scale.loaded_years
    report.add(f"rebuild all ({len(names)}, {years} year(s), {head:,} events)", "≤ 60 s (10 y)",
               f"{total:.1f} s", total <= 60 if years >= 10 else None, seconds=total,
               events=head)  # fmt: skip
    report.add("rebuild peak RSS", "≤ 500 MB", f"{peak:.0f} MB", peak <= 500, rss_mb=peak)
    report.details["rebuild"] = {"head": head, "projections": results}


async def agreement_positions(system: System) -> list[tuple[str, int]]:
    """(agreement_id, position of its AgreementConcluded) from the store."""
    connection = await asyncpg.connect(system.database_url)
    try:
        rows = await connection.fetch(
            "SELECT data->>'agreement_id' AS id, position FROM store.events"
            " WHERE type = 'AgreementConcluded' ORDER BY position"
        )
    finally:
        await connection.close()
    return [(row["id"], int(row["position"])) for row in rows]


async def phase_asof(config: Config, system: System, report: Report, head: int) -> None:
    """GET /agreements/{id}/attainment?as_of_position=N for random agreements and positions."""
    agreements = await agreement_positions(system)
    if not agreements:
        raise RuntimeError("no agreements recorded")
    rng = random.Random(config.seed)
    latencies, statuses = [], dict[int, int]()
    async with httpx.AsyncClient(
        base_url=system.api, headers=auth_headers(system.token), timeout=30.0
    ) as http:
        for _ in range(config.scale.asof_requests):
            agreement_id, concluded = rng.choice(agreements)
            position = rng.randint(concluded, max(concluded, head))
            began = time.perf_counter()
            response = await http.get(
                f"/agreements/{agreement_id}/attainment", params={"as_of_position": position}
            )
            latencies.append(time.perf_counter() - began)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
    ok = statuses.get(200, 0) == len(latencies)
    report.add("as-of attainment p50 / p95", "p95 ≤ 100 ms",
               f"{p50:.1f} / {p95:.1f} ms" + ("" if ok else f" (statuses {statuses})"),
               p95 <= 100 and ok, p50_ms=p50, p95_ms=p95)  # fmt: skip
    report.details["asof"] = {"requests": len(latencies), "statuses": statuses,
                              "p50_ms": p50, "p95_ms": p95}  # fmt: skip


def load_generator(base: str, paths_file: Path, seconds: float, token: str | None,
                   workdir: Path) -> dict[str, Any]:  # fmt: skip
    """20 concurrent clients for `seconds` in a process of their own: wrk, else httpload."""
    wrk = shutil.which("wrk")
    if wrk:
        script = workdir / "rotate.lua"
        script.write_text(WRK_SCRIPT)
        command = [wrk, "-t2", "-c20", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", str(script)]
        if token:
            command += ["-H", f"Authorization: Bearer {token}"]
        command += [base, "--", str(paths_file)]
        tool = "wrk"
    else:
        command = [
            sys.executable,
            "-m",
            "tests.benchmarks.httpload",
            "--base",
            base,
            "--paths",
            str(paths_file),
            "--clients",
            "20",
            "--seconds",
            str(seconds),
        ]
        if token:
            command += ["--token", token]
        tool = "httpload (asyncio httpx)"
    done = subprocess.run(command, capture_output=True, timeout=seconds + 60, check=False)
    text = done.stdout.decode(errors="replace")
    line = next((ln for ln in text.splitlines()[::-1] if ln.strip().startswith(("RESULT", "{"))),
                None)  # fmt: skip
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{tool} failed: {text[-1000:]} {done.stderr.decode()[-1000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT").strip())
    result["tool"] = tool
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


async def phase_query(config: Config, system: System, report: Report) -> None:
    """Four endpoints, 20 concurrent clients each, ~10 s (full) each."""
    agreements = [agreement_id for agreement_id, _ in await agreement_positions(system)]
    rng = random.Random(config.seed)
    rng.shuffle(agreements)
    years = sorted({int(a.rsplit("-", 1)[1]) for a in agreements})
    jobcenters = sorted({a.rsplit("-", 1)[0] for a in agreements})
    endpoints = {
        "GET /agreements/{id}/attainment": [f"/agreements/{a}/attainment" for a in agreements],
        "GET /attainment?year=Y": [f"/attainment?year={y}" for y in years],
        "GET /figures?jobcenter_id=J&year=Y": [
            f"/figures?jobcenter_id={j}&year={y}" for j in jobcenters for y in years
        ],
        "GET /key-figures?level=germany&code=C&year=Y": [
            f"/key-figures?level=germany&code={c}&year={y}"
            for c in ("k1", "k2", "k3")
            for y in years
        ],
    }
    async with httpx.AsyncClient(
        base_url=system.api, headers=auth_headers(system.token), timeout=30.0
    ) as http:  # one answer kept with the figures, to see what was served
        sample = await http.get(endpoints["GET /agreements/{id}/attainment"][0])
        report.details["sample_attainment"] = {"status": sample.status_code, "body": sample.text}
    results = {}
    with tempfile.TemporaryDirectory(prefix="zs-bench-query-") as workdir:
        for name, paths in endpoints.items():
            rng.shuffle(paths)
            paths_file = Path(workdir) / "paths.txt"
            paths_file.write_text("\n".join(paths) + "\n")
            config.console.print(f"query: {name} ({len(paths):,} paths)")
            result = await asyncio.to_thread(load_generator, system.api, paths_file,
                                             config.scale.query_seconds, system.token,
                                             Path(workdir))  # fmt: skip
            results[name] = result
            p50, p99 = result["p50_us"] / 1000, result["p99_us"] / 1000
            errors = f", {result['errors']:,} errors" if result["errors"] else ""
            value = f"{result['rps']:,.0f} req/s, p50 {p50:.1f} / p99 {p99:.1f} ms{errors}"
            if name.startswith("GET /agreements"):
                passed = result["rps"] >= 1500 and p99 <= 20 and not result["errors"]
                report.add(f"query {name}", "≥ 1,500 req/s, p99 ≤ 20 ms", value, passed,
                           rps=result["rps"], p50_ms=p50, p99_ms=p99)  # fmt: skip
            else:
                report.add(f"query {name}", "—", value, rps=result["rps"], p50_ms=p50,
                           p99_ms=p99)  # fmt: skip
    report.details["query"] = results


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
                          lambda: phase_rebuild(config, env, database_url, report))  # fmt: skip

    prepare = direct if config.load == "direct" else None
    async with running_system(config, "loaded", prepare) as system:
        if config.load == "direct":
            last = await wait_projected(config, system, report)
        else:
            last = await load_years(config, system, report)
        for name, run in (
            ("rebuild", lambda: phase_rebuild(config, system.env, system.database_url, report)),
            ("asof", lambda: phase_asof(config, system, report, last.head)),
            ("query", lambda: phase_query(config, system, report)),
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
    from events.recording import new_event
    from events.store import EventStore, NewEvent, create_pool

    try:  # the fold may move next to the catalogue
        from events.entities import KnownEntities  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from projections.entities import KnownEntities

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


async def guarded(config: Config, report: Report, name: str,
                  run: Callable[[], Any]) -> None:  # fmt: skip
    """Run one phase; a failure is reported and the next phase runs."""
    try:
        await run()
    except Exception as error:  # one phase failing must not stop the others
        config.console.print(f"[red]phase {name} failed:[/] {error}")
        report.failures[name] = f"{type(error).__name__}: {error}"
        report.add(f"{name}", "—", f"FAILED: {type(error).__name__}", False)


# --- output --------------------------------------------------------------------------------


def results_table(report: Report, config: Config) -> Table:
    """One table: figure, goal, measured value, met?"""
    note = "" if config.scale.name == "full" else " (goals are for the full scale)"
    machine = report.details.get("machine", {})
    load = machine.get("loadavg_at_start", (0.0,))[0]
    table = Table(
        title=f"Zielsteuerung benchmarks, scale {config.scale.name}{note}",
        caption=f"{machine.get('cpus')} CPUs, load average {load:.1f} at the start",
    )
    for heading in ("figure", "goal", "measured", "met"):
        table.add_column(heading, overflow="fold")
    for row in report.figures:
        met = {True: "yes", False: "NO", None: ""}[row.passed]
        table.add_row(row.name, row.goal, row.value, met)
    return table


def git_commit() -> str | None:
    """The commit benchmarked, when in a git checkout."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, timeout=10,
                              check=True)  # fmt: skip
        return done.stdout.decode().strip()
    return None


def write_results(report: Report, config: Config, started: datetime) -> None:
    """The figures and details as JSON."""
    config.out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": started.isoformat(), "finished_at": datetime.now(UTC).isoformat(),
        "commit": git_commit(), "scale": config.scale.__dict__, "phases": config.only,
        "load": config.load, "seed": config.seed,
        "figures": [row.__dict__ for row in report.figures],
        "failures": report.failures, "details": report.details,
    }  # fmt: skip
    config.out.write_text(json.dumps(document, indent=2, default=str) + "\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="Run the benchmarks, print one table.")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", default=",".join(PHASES),
                        help=f"comma-separated subset of {','.join(PHASES)}")  # fmt: skip
    parser.add_argument("--token", default=os.environ.get("ZS_BENCH_TOKEN") or None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--jobcenters", type=int, help="override the scale's jobcenters")
    parser.add_argument("--years", type=int, help="override the loaded years (rebuild etc.)")
    parser.add_argument("--backlog", type=int, help="override the messages of the backlog")
    parser.add_argument("--load", choices=("ingest", "direct"), default="ingest",
                        help="how rebuild/asof/query's years are recorded: through the broker "
                        "and the real ingest, or appended directly (faster)")  # fmt: skip
    parser.add_argument("--timeout-factor", type=float, default=1.0,
                        help="multiply the per-phase timeouts")  # fmt: skip
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    """Settings from arguments and environment."""
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = set(only) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phase(s) {sorted(unknown)}; known: {', '.join(PHASES)}")
    scale = SCALES[args.scale]
    if args.jobcenters or args.years:
        scale = dataclasses.replace(scale, jobcenters=args.jobcenters or scale.jobcenters,
                                    loaded_years=args.years or scale.loaded_years)  # fmt: skip
    if args.backlog:
        scale = dataclasses.replace(scale, backlog=args.backlog)
    database = (os.environ.get("ZS_BENCH_DATABASE_URL") or os.environ.get("ZS_DATABASE_URL")
                or DEFAULT_DATABASE)  # fmt: skip
    broker = os.environ.get("ZS_BENCH_BROKER_URL") or DEFAULT_BROKER
    console = Console() if sys.stdout.isatty() else Console(width=140)
    return Config(scale, only, database, broker, args.token, args.seed, args.out,
                  args.timeout_factor, args.load, console)  # fmt: skip


async def run_async(config: Config, report: Report) -> None:
    """The asynchronous phases, in order."""
    wanted = set(config.only)
    if "e2e" in wanted:
        await guarded(config, report, "e2e", lambda: phase_e2e(config, report))
    if wanted & {"rebuild", "asof", "query"}:
        await guarded(config, report, "load", lambda: phase_loaded(config, report, wanted))
    if wanted & {"backlog", "hostile"}:
        from tests.benchmarks import bench_backlog

        if "backlog" in wanted:
            await guarded(config, report, "backlog",
                          lambda: bench_backlog.phase_backlog(config, report))  # fmt: skip
        if "hostile" in wanted:
            await guarded(config, report, "hostile",
                          lambda: bench_backlog.phase_hostile(config, report))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen phases, print the table, write the JSON; 1 when a phase failed."""
    config = make_config(parse_args(argv))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up on a stop, too
    started = datetime.now(UTC)
    report = Report()
    report.details["machine"] = {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()}
    console = config.console
    console.print(f"scale {config.scale}, phases {', '.join(config.only)}")
    try:
        if "append" in config.only:
            try:
                phase_append(config, report)
            except Exception as error:  # report it, run the rest
                report.failures["append"] = f"{type(error).__name__}: {error}"
                report.add("append", "—", f"FAILED: {type(error).__name__}", False)
        asyncio.run(run_async(config, report))
    except KeyboardInterrupt:  # SIGINT or SIGTERM: the phases have cleaned up on the way out
        report.failures["interrupted"] = "stopped by a signal"
    finally:
        report.details["machine"]["loadavg_at_end"] = os.getloadavg()
        write_results(report, config, started)
        console.print(results_table(report, config))
        for name, failure in report.failures.items():
            console.print(f"[red]{name} failed:[/] {failure}")
        console.print(f"results written to {config.out}")
    if "interrupted" in report.failures:
        return 130
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
