"""Recovery at full speed and the hostile mix (issue 9): `zs ingest` alone, on a fresh database
of its own and the benchmark's Redis DB, driven by plain pipelined XADDs.

backlog: three runs of one ingest process over one continuous national workload:
1. live: the ingest runs while messages arrive, never more than `LIVE_AHEAD` unsettled (so it
   is never idle and never faces a backlog): its normal rate; run again at the end (4.), since
   that rate falls as the store and the ingest's fold of agreements grow;
2. backlog: the ingest stopped, `scale.backlog` messages added to `zs.ingest`, then it starts
   and drains them (read by the consumer group's reader);
3. reclaim: the ingest stopped, `scale.backlog_reclaim` messages added and delivered to a
   consumer that never acknowledges (pending in the group, as a dead replica leaves them);
   once they are idle for the redelivery time the ingest starts and takes them over with
   XAUTOCLAIM.
For each: msg/s over the first 10 %, the middle (10-90 %) and the last 10 % of the run and
overall, the ingest's peak RSS, and whether everything was settled and nothing stays pending.
The goal compares like with like: the backlog's first 10 % with the live run before it, its
last 10 % with the live run after it, the reclaim drain's middle with the live run after;
each at least 0.9.

hostile: `scale.hostile` messages, 49 of every 50 hostile (NUL and lone surrogates in ids, JSON
nested 5,000 deep, overflowing or bare-number times, bytes that are not UTF-8, oversize bodies,
NUL in key names, unknown types, negative values), one valid canary in each 50, published at
`HOSTILE_RATE` msg/s with the production redelivery time; each canary's latency from its XADD
until the store shows it recorded (polled every 50 ms).

With `ZS_BENCH_PROFILE=1` (py-spy next to the interpreter, else on PATH) each ingest run is
profiled: collapsed stacks in `profile-ingest-<run>.txt` next to the results.

Its size: both phases run `zs ingest` alone and share its harness (a fresh system, the
process, the accounting of what was settled); apart, that harness would be a third module
used by these two only.
"""

import asyncio
import contextlib
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from tests.benchmarks.harness import Config, Report, percentile, zs_executable
from tests.benchmarks.national import encode, national_workload
from tests.benchmarks.system import flush_broker, fresh_database, spawn, stop, unexpected_rejections
from tests.factories import HOSTILE_KINDS, envelope, hostile_body

INGEST_STREAM = "zs.ingest"
INGEST_GROUP = "zs-ingest"
DEAD_CONSUMER = "bench-dead-replica"
REDELIVER_AFTER_S = 30.0
"""The production default: what a dead replica's messages wait before they are taken over."""
LIVE_AHEAD = 2_000
"""In the live run, publishing pauses while this many messages are unsettled (four batches)."""
SAMPLE_S = 0.5
MESSAGES_PER_JOBCENTER_YEAR = 240
"""About what the national generator publishes per jobcenter and year (98,440 / 404)."""
NATIONAL = 404
HOSTILE_RATE = 500.0
CANARY_EVERY = 50
CANARY_SOURCE = "bench-canary"
CANARY_JOBCENTERS = 40
CANARY_GOAL_S = 2.0


# --- the ingest process ---------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), while it runs."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


@contextlib.asynccontextmanager
async def fresh_system(config: Config, label: str) -> AsyncIterator[dict[str, str]]:
    """A fresh, migrated database and an empty Redis DB; the services' environment."""

    await flush_broker(config.broker_url)
    async with fresh_database(config, label) as database_url:
        with tempfile.TemporaryDirectory(prefix=f"zs-bench-{label}-") as data_dir:
            env = {
                **os.environ,
                "ZS_DATABASE_URL": database_url, "ZS_BROKER_URL": config.broker_url,
                "ZS_DATA_DIR": data_dir, "ZS_LOG_FORMAT": "json", "ZS_LOG_LEVEL": "warning",
                "ZS_REDELIVER_AFTER_S": str(REDELIVER_AFTER_S),
                "ZS_BROKER_TRUSTED_NETWORK": "true",  # the harness XADDs to the shared zs.ingest
            }  # fmt: skip
            await asyncio.to_thread(
                subprocess.run, [zs_executable(), "migrate"], env=env,
                capture_output=True, timeout=300, check=True,
            )  # fmt: skip
            try:
                yield env
            finally:
                await flush_broker(config.broker_url)


@dataclass
class Ingest:
    """A running `zs ingest`, and the peak RSS seen while it ran."""

    process: Any
    peak_mb: float | None = None


@contextlib.asynccontextmanager
async def ingest_process(config: Config, env: dict[str, str], label: str) -> AsyncIterator[Ingest]:
    """`zs ingest` in a session of its own; stopped (SIGINT, then SIGKILL) when the block ends,
    its peak RSS read just before."""

    log_path = config.out.parent / f"zs-ingest-{label}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    process = spawn([zs_executable(), "ingest"], env, log_path, env["ZS_DATA_DIR"])
    ingest = Ingest(process)
    profiler = None
    if os.environ.get("ZS_BENCH_PROFILE"):  # py-spy's collapsed stacks of the whole run
        profile = config.out.parent / f"profile-ingest-{label}.txt"
        found = Path(sys.executable).parent / "py-spy"
        command = [str(found) if found.exists() else "py-spy", "record", "--pid",
                   str(process.pid), "--format", "raw", "--rate", "50", "--output",
                   str(profile)]  # fmt: skip
        profiler = spawn(command, env, profile.with_suffix(".log"), env["ZS_DATA_DIR"])
    try:
        yield ingest
    finally:
        ingest.peak_mb = peak_rss_mb(process.pid)
        if profiler is not None:
            await asyncio.to_thread(stop, profiler)
        await asyncio.to_thread(stop, process)


async def settled_count(connection: asyncpg.Connection) -> int:
    """Messages recorded or rejected so far."""
    return int(
        await connection.fetchval(
            "SELECT (SELECT coalesce(max(position), 0) FROM store.events)"
            " + (SELECT count(*) FROM service.rejections)"
        )
    )


async def pending(client: "aioredis.Redis", stream: str) -> int:
    """XPENDING's count of the ingest group (0 when it does not exist)."""
    with contextlib.suppress(aioredis.ResponseError):
        return int((await client.xpending(stream, INGEST_GROUP))["pending"])
    return 0


async def wait_nothing_pending(client: "aioredis.Redis", stream: str, within_s: float) -> int:
    """Wait until the group holds nothing unacknowledged (bounded); what is left."""
    deadline = time.monotonic() + within_s
    left = await pending(client, stream)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        left = await pending(client, stream)
    return left


# --- drain rates -----------------------------------------------------------------------------


@dataclass
class Run:
    """(seconds since the ingest started, messages settled by then) of one run."""

    name: str
    messages: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    peak_mb: float | None = None
    left_pending: int = 0
    publish_rate: float | None = None

    def crossing(self, share: float) -> float:
        """When `share` of the messages were settled (interpolated between samples)."""
        target = share * self.messages
        previous = (0.0, 0)
        for at, done in self.samples:
            if done >= target:
                (t0, d0), span = previous, done - previous[1]
                return at if span == 0 else t0 + (at - t0) * (target - d0) / span
            previous = (at, done)
        raise ValueError(f"{self.name}: never reached {share:.0%}")

    def started(self) -> tuple[float, int]:
        """The first sample with progress: the ingest was up by then."""
        return next((at, done) for at, done in self.samples if done > 0)

    def rate(self, low: float, high: float) -> float:
        """msg/s between settling `low` and `high` of the messages (from the first progress
        when `low` is 0, so the process's start-up is not counted)."""
        begin, done = (self.crossing(low), low * self.messages) if low else self.started()
        return (high * self.messages - done) / max(self.crossing(high) - begin, 1e-9)

    def rates(self) -> dict[str, float]:
        """First 10 %, middle (10-90 %), last 10 %, and overall from the first progress."""
        return {
            "first_10pct": self.rate(0.0, 0.1), "middle": self.rate(0.1, 0.9),
            "last_10pct": self.rate(0.9, 1.0), "overall": self.rate(0.0, 1.0),
        }  # fmt: skip

    def seconds(self) -> float:
        """From the ingest's start until the last message was settled."""
        return self.crossing(1.0)


async def follow_drain(
    connection: asyncpg.Connection, run: Run, baseline: int, ingest: Ingest, began: float,
    timeout_s: float,
) -> None:  # fmt: skip
    """Sample the settled count until every message of `run` is settled (times since
    `began`)."""
    while True:
        done = await settled_count(connection) - baseline
        run.samples.append((time.perf_counter() - began, done))
        ingest.peak_mb = peak_rss_mb(ingest.process.pid) or ingest.peak_mb
        if done >= run.messages:
            return
        if ingest.process.poll() is not None:
            raise RuntimeError(f"{run.name}: zs ingest exited ({ingest.process.returncode})")
        if time.perf_counter() - began > timeout_s:
            raise TimeoutError(f"{run.name}: {done:,} of {run.messages:,} after {timeout_s:.0f} s")
        await asyncio.sleep(SAMPLE_S)


def national_bodies(total: int, seed: int) -> Iterator[bytes]:
    """`total` distinct messages of the national workload, in publication order, over as many
    years as needed (at most 21: nothing before 2005)."""
    years = min(21, total // (NATIONAL * MESSAGES_PER_JOBCENTER_YEAR) + 2)
    produced = 0
    for message in itertools.islice(national_workload(NATIONAL, years, seed), total):
        produced += 1
        yield encode(message)
    if produced < total:
        raise RuntimeError(f"the workload of {years} years has only {produced:,} messages")


async def xadd(client: "aioredis.Redis", stream: str, bodies: Sequence[bytes]) -> None:
    """One pipelined round trip of `XADD stream * data body`."""
    async with client.pipeline(transaction=False) as pipe:
        for body in bodies:
            pipe.xadd(stream, {"data": body})
        await pipe.execute()


async def fill(client: "aioredis.Redis", stream: str, bodies: Iterator[bytes], count: int) -> float:
    """XADD `count` bodies, 1,000 per round trip; msg/s including generating them."""
    began = time.perf_counter()
    for _ in range(0, count, 1000):
        chunk = list(itertools.islice(bodies, 1000))
        if chunk:
            await xadd(client, stream, chunk)
    return count / (time.perf_counter() - began)


async def deliver_to_dead_consumer(client: "aioredis.Redis", stream: str) -> int:
    """Deliver everything new in `stream` to a consumer that will never acknowledge."""
    with contextlib.suppress(aioredis.ResponseError):  # BUSYGROUP: the ingest made it
        await client.xgroup_create(stream, INGEST_GROUP, id="0", mkstream=True)
    delivered = 0
    while True:
        reply = await client.xreadgroup(INGEST_GROUP, DEAD_CONSUMER, {stream: ">"}, count=10_000)
        entries = reply[0][1] if reply else []  # type: ignore[index]
        delivered += len(entries)
        if not entries:
            return delivered


async def live_run(
    config: Config, env: dict[str, str], connection: asyncpg.Connection,
    client: "aioredis.Redis", bodies: Iterator[bytes], count: int, name: str,
) -> Run:  # fmt: skip
    """The ingest running while messages arrive, kept busy but never behind."""
    run, baseline = Run(name, count), await settled_count(connection)
    async with ingest_process(config, env, name) as ingest:
        began, published = time.perf_counter(), 0
        while published < count:
            done = await settled_count(connection) - baseline
            run.samples.append((time.perf_counter() - began, done))
            if published - done > LIVE_AHEAD:
                await asyncio.sleep(0.05)
                continue
            chunk = list(itertools.islice(bodies, min(1000, count - published)))
            await xadd(client, INGEST_STREAM, chunk)
            published += len(chunk)
        await follow_drain(connection, run, baseline, ingest, began, 600 + count / 50)
    run.peak_mb = ingest.peak_mb
    run.left_pending = await wait_nothing_pending(client, INGEST_STREAM, 10)
    return run


async def backlog_run(
    config: Config, env: dict[str, str], connection: asyncpg.Connection,
    client: "aioredis.Redis", bodies: Iterator[bytes], count: int, *, dead_consumer: bool,
) -> Run:  # fmt: skip
    """`count` messages waiting before the ingest starts: new in the stream, or delivered to a
    dead consumer (then the ingest starts once they are idle for the redelivery time)."""
    name = "reclaim" if dead_consumer else "backlog"
    run, baseline = Run(name, count), await settled_count(connection)
    config.console.print(f"backlog: {name}: adding {count:,} messages")
    run.publish_rate = await fill(client, INGEST_STREAM, bodies, count)
    if dead_consumer:
        delivered = await deliver_to_dead_consumer(client, INGEST_STREAM)
        if delivered != count:
            raise RuntimeError(f"delivered {delivered:,} to the dead consumer, not {count:,}")
        await asyncio.sleep(REDELIVER_AFTER_S)  # idle long enough to be taken over at once
    config.console.print(f"backlog: {name}: {count:,} waiting; starting zs ingest")
    async with ingest_process(config, env, name) as ingest:
        began = time.perf_counter()
        await follow_drain(connection, run, baseline, ingest, began, 600 + count / 50)
        run.left_pending = await wait_nothing_pending(client, INGEST_STREAM, 30)
    run.peak_mb = ingest.peak_mb
    return run


async def phase_backlog(config: Config, report: Report) -> None:
    """Live, backlog and reclaim runs over one continuous workload."""

    scale = config.scale
    live, backlog, reclaim = scale.backlog_live, scale.backlog, scale.backlog_reclaim
    bodies = national_bodies(2 * live + backlog + reclaim, config.seed)
    config.console.print(f"backlog: live {live:,}, backlog {backlog:,}, reclaim {reclaim:,}")
    async with fresh_system(config, "backlog") as env:
        connection = await asyncpg.connect(env["ZS_DATABASE_URL"])
        client = aioredis.from_url(config.broker_url)
        try:
            runs = [await live_run(config, env, connection, client, bodies, live, "live")]
            config.console.print(f"backlog: live {runs[0].rate(0.1, 0.9):,.0f} msg/s")
            runs.append(await backlog_run(config, env, connection, client, bodies, backlog,
                                          dead_consumer=False))  # fmt: skip
            if reclaim:
                runs.append(await backlog_run(config, env, connection, client, bodies, reclaim,
                                              dead_consumer=True))  # fmt: skip
            runs.append(await live_run(config, env, connection, client, bodies, live,
                                       "live_after"))  # fmt: skip
            unexpected = await unexpected_rejections(connection)
            published = 2 * live + backlog + reclaim
            settled = await settled_count(connection)
        finally:
            await client.aclose()
            await connection.close()
    # The ingest's rate depends on the size of the store (and of its fold of agreements), so
    # each part of a drain is held against the live rate at about the same size: its first
    # 10 % against the live run before, its last 10 % (and the reclaim run, which follows the
    # backlog) against the live run after.
    before, after = runs[0].rate(0.1, 0.9), runs[-1].rate(0.1, 0.9)
    details: dict[str, Any] = {"live_before": before, "live_after": after,
                               "published": published, "settled": settled,
                               "unexpected_rejections": unexpected}  # fmt: skip
    for run in runs:
        rates = run.rates()
        details[run.name] = {
            "messages": run.messages, "seconds": run.seconds(), "rates": rates,
            "startup_s": run.started()[0], "peak_rss_mb": run.peak_mb,
            "left_pending": run.left_pending, "publish_rate": run.publish_rate,
            "samples": run.samples,
        }  # fmt: skip
        rss = f"{run.peak_mb:,.0f} MB" if run.peak_mb is not None else "n/a"
        value = (
            f"{rates['first_10pct']:,.0f} / {rates['middle']:,.0f} / {rates['last_10pct']:,.0f}"
            f" msg/s (first 10 % / middle / last 10 %); {run.messages:,} in "
            f"{run.seconds():,.0f} s; RSS {rss}; pending {run.left_pending}"
        )
        if run.name.startswith("live"):
            when = "before" if run.name == "live" else "after"
            report.add(f"backlog: live rate {when} the backlog", "—", value, None, **rates)
            continue
        if run.name == "backlog":
            first, last = rates["first_10pct"] / before, rates["last_10pct"] / after
            ratios, label = (
                (first, last),
                f"first 10 % {first:.2f} of live before, last 10 % {last:.2f} of live after",
            )
        else:
            ratios = (rates["middle"] / after,)
            label = f"middle {ratios[0]:.2f} of live after"
        report.add(f"backlog: {run.name} drain ({label})", "≥ 0.9 of live", value,
                   min(ratios) >= 0.9 and run.left_pending == 0, ratios=ratios,
                   peak_rss_mb=run.peak_mb, **rates)  # fmt: skip
    wrongly = sum(int(row["n"]) for row in unexpected)
    report.add("backlog: settled / published, valid rejected", "all / 0",
               f"{settled:,} / {published:,}, {wrongly:,}",
               settled == published and wrongly == 0)  # fmt: skip
    report.details["backlog"] = details


# --- the hostile mix -------------------------------------------------------------------------


def canary(number: int) -> dict[str, Any]:
    """The `number`-th canary: a monthly figure no other canary reports."""
    jobcenter = f"99{number % CANARY_JOBCENTERS:03d}"
    rest, month = divmod(number // CANARY_JOBCENTERS, 12)
    return envelope(
        "MonthlyFigureReported",
        {"jobcenter_id": jobcenter, "indicator": "integrations", "period": f"2024-{month + 1:02d}",
         "breakdown": ("total", "women", "men")[rest % 3], "value": number % 900,
         "status": "preliminary"},
        source=CANARY_SOURCE, occurred_at="2025-03-27T08:00:00Z",
    )  # fmt: skip


def jobcenters() -> list[bytes]:
    """The canaries' jobcenters, registered first."""
    return [
        encode(envelope("JobcenterRegistered", {"jobcenter_id": f"99{n:03d}",
                        "name": f"Jobcenter 99{n:03d}", "land": "DE-HE", "kind": "gE"},
                        source=CANARY_SOURCE))
        for n in range(CANARY_JOBCENTERS)
    ]  # fmt: skip


async def phase_hostile(config: Config, report: Report) -> None:
    """The hostile mix with a canary in every 50 messages, published at `HOSTILE_RATE`."""
    total = config.scale.hostile
    chunks, rng = total // CANARY_EVERY, random.Random(config.seed)
    async with fresh_system(config, "hostile") as env:
        connection = await asyncpg.connect(env["ZS_DATABASE_URL"])
        watcher = await asyncpg.connect(env["ZS_DATABASE_URL"])
        client = aioredis.from_url(config.broker_url)
        try:
            async with ingest_process(config, env, "hostile") as ingest:
                setup = jobcenters()
                await xadd(client, INGEST_STREAM, setup)
                await wait_settled(connection, len(setup), ingest, 120)
                published, seen = dict[str, float](), dict[str, float]()
                watching = asyncio.create_task(watch(watcher, published, seen, chunks))
                began = time.perf_counter()
                for number in range(chunks):
                    good = canary(number)
                    bodies = [hostile_body(good, rng.choice(HOSTILE_KINDS))
                              for _ in range(CANARY_EVERY - 1)]  # fmt: skip
                    bodies.insert(rng.randrange(CANARY_EVERY), encode(good))
                    pause = began + number * CANARY_EVERY / HOSTILE_RATE - time.perf_counter()
                    await asyncio.sleep(max(0.0, pause))
                    published[good["message_id"]] = time.perf_counter()
                    await xadd(client, INGEST_STREAM, bodies)
                publish_rate = chunks * CANARY_EVERY / (time.perf_counter() - began)
                expected = len(setup) + chunks * CANARY_EVERY
                await wait_settled(connection, expected, ingest, 300 + total / 20)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watching, 30)
                left = await wait_nothing_pending(client, INGEST_STREAM, 30)
            recorded = int(await connection.fetchval(
                "SELECT count(*) FROM store.events WHERE source = $1", CANARY_SOURCE))  # fmt: skip
            rejected = int(await connection.fetchval("SELECT count(*) FROM service.rejections"))
        finally:
            await client.aclose()
            await watcher.close()
            await connection.close()

    latencies = [seen[key] - at for key, at in published.items() if key in seen]
    p50, p95, p99 = (percentile(latencies, share) for share in (0.5, 0.95, 0.99))
    worst = max(latencies, default=float("nan"))
    settled_all = recorded + rejected == expected and left == 0 and len(latencies) == chunks
    report.add(f"hostile mix: canary latency p50 / p95 / p99 / max ({chunks} canaries)",
               "p99 ≤ 2 s", f"{p50:.2f} / {p95:.2f} / {p99:.2f} / {worst:.2f} s",
               p99 <= CANARY_GOAL_S and len(latencies) == chunks, p50_s=p50, p95_s=p95,
               p99_s=p99, max_s=worst)  # fmt: skip
    report.add("hostile mix: recorded + rejected / published, pending", "all, 0",
               f"{recorded:,} + {rejected:,} / {expected:,}, {left}; {publish_rate:,.0f} msg/s"
               f", RSS {ingest.peak_mb or 0:,.0f} MB", settled_all)  # fmt: skip
    report.details["hostile"] = {
        "published": expected, "recorded": recorded, "rejected": rejected, "pending": left,
        "canaries": chunks, "canaries_seen": len(latencies), "publish_rate": publish_rate,
        "latencies_s": sorted(latencies), "peak_rss_mb": ingest.peak_mb,
    }  # fmt: skip


async def wait_settled(
    connection: asyncpg.Connection, count: int, ingest: Ingest, timeout_s: float
) -> None:
    """Wait until `count` messages are recorded or rejected."""
    deadline = time.monotonic() + timeout_s
    while (done := await settled_count(connection)) < count:
        if ingest.process.poll() is not None:
            raise RuntimeError(f"zs ingest exited ({ingest.process.returncode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done:,} of {count:,} settled after {timeout_s:.0f} s")
        await asyncio.sleep(0.2)


async def watch(
    connection: asyncpg.Connection, published: dict[str, float], seen: dict[str, float],
    canaries: int,
) -> None:  # fmt: skip
    """Note when each published canary is first seen recorded (polled every 50 ms)."""
    after = 0
    while len(seen) < canaries:
        rows = await connection.fetch(
            "SELECT position, message_id FROM store.events WHERE position > $1 AND source = $2",
            after, CANARY_SOURCE,
        )  # fmt: skip
        now = time.perf_counter()
        for row in rows:
            after = max(after, row["position"])
            if row["message_id"] in published:
                seen.setdefault(row["message_id"], now)
        await asyncio.sleep(0.05)
