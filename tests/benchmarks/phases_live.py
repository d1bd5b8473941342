"""Phases that time a stream of messages: the append benchmark and one national year end to end."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from rich.console import Console
from rich.progress import Progress

from tests.benchmarks.cpu import Sampler
from tests.benchmarks.harness import Config, Report, build_workload, guarded, percentile
from tests.benchmarks.phases_loaded import phase_rebuild
from tests.benchmarks.system import (
    System,
    Timeline,
    follow,
    publish,
    running_system,
    spawn,
    stop,
    unexpected_rejections,
)


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
        report.add_goal(
            f"append_{result.batch_size}",
            f"append batch {result.batch_size:,}: store ÷ eventsourcing",
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
        sampler = Sampler(system.process.pid, system.database_url,
                          urlsplit(system.database_url).path.lstrip("/"))  # fmt: skip
        sampling = asyncio.create_task(sampler.run())
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
            sampling.cancel()
            await asyncio.wait([sampling])
            unexpected = await unexpected_rejections(connection)
        finally:
            sampling.cancel()
            if profiler is not None:
                await asyncio.to_thread(stop, profiler)
            await connection.close()
        if "rebuild" in config.only and scale.loaded_years != scale.e2e_years:
            # the rebuild phase loads another number of years: rebuild this one, too
            await guarded(config, report, f"rebuild ({scale.e2e_years} y)",
                          lambda: phase_rebuild(config, system.env, system.database_url, report,
                                                scale.e2e_years))  # fmt: skip
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
        report.add_goal("e2e", "e2e: end to end (projections at head)",
                        f"timed out after {timeout_s:.0f} s; behind: {behind}", False)  # fmt: skip
    else:
        rate = published / timeline.projected_s
        report.add_goal("e2e", "e2e: end to end (projections at head)",
                        f"{rate:,.0f} msg/s ({timeline.projected_s:.1f} s)", rate >= 5_000,
                        rate=rate)  # fmt: skip
    report.add("e2e: projection lag p50 / p99 (events, worst projection)", "—",
               f"{percentile(lags, 0.5):,.0f} / {percentile(lags, 0.99):,.0f}",
               p50=percentile(lags, 0.5), p99=percentile(lags, 0.99))  # fmt: skip
    report_cpu(report, sampler, published)
    wrongly = sum(int(row["n"]) for row in unexpected)
    report.add("e2e: valid messages rejected / not recorded", "0 / 0",
               f"{wrongly:,} / {missing:,}", wrongly == 0 and missing == 0)  # fmt: skip


def report_cpu(report: Report, sampler: Sampler, messages: int) -> None:
    """CPU per message over every process and PostgreSQL's backends, CPU seconds and peak RSS
    per process (from `/proc`, sampled while the year went through)."""
    used = sampler.by_label()
    total = sum(entry["cpu_s"] for entry in used.values())
    per_message_ms = total / messages * 1000
    report.add_goal("cpu", "e2e: CPU per message, every process and PostgreSQL",
                    f"{per_message_ms:.2f} ms ({total:.1f} CPU s / {messages:,} messages)",
                    per_message_ms <= 0.3, ms=per_message_ms, cpu_s=total)  # fmt: skip
    report.add("e2e: CPU seconds per process", "—", ", ".join(
        f"{label} {entry['cpu_s']:.1f}" + (f" ({entry['processes']:.0f})"
                                           if entry["processes"] > 1 else "")
        for label, entry in used.items()
    ), **{label: entry["cpu_s"] for label, entry in used.items()})  # fmt: skip
    tree = sampler.tree_peak_rss_mb()
    report.add_goal("tree_rss", "e2e: peak RSS of the `zs up` tree (sum of each process's peak)",
                    f"{tree:.0f} MB: " + ", ".join(
                        f"{label} {entry['peak_rss_mb']:.0f}" for label, entry in used.items()
                        if label != "postgres backend"),
                    tree <= 400, mb=tree)  # fmt: skip
    report.details["cpu"] = {"per_message_ms": per_message_ms, "by_process": used}
