"""Every benchmark in one run, one table, the figures as JSON (`make bench`, issue 8).

`python -m tests.benchmarks.run [--scale quick|full] [--only append,e2e,...,hostile,memory]`

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
- memory: `bench_memory`: Redis's used_memory while a million messages are settled.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.benchmarks.harness import (
    DEFAULT_BROKER,
    DEFAULT_DATABASE,
    DEFAULT_OUT,
    PHASES,
    SCALES,
    Config,
    Report,
    guarded,
)
from tests.benchmarks.loading import phase_loaded
from tests.benchmarks.phases_live import phase_append, phase_e2e

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


def summary_table(report: Report) -> Table:
    """Issue 21's figures in its order: measured, goal, met?"""
    table = Table(title="Issue 21: every figure and its goal")
    for heading in ("figure", "measured", "goal", "met?"):
        table.add_column(heading, overflow="fold")
    for row in report.summary():
        met = {True: "yes", False: "NO", None: ""}[row["met"]]
        table.add_row(row["figure"], row["measured"], row["goal"], met)
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
        "figures": [row.__dict__ for row in report.figures], "issue_21": report.summary(),
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
    parser.add_argument("--load", choices=("ingest", "direct"), default="direct",
                        help="how rebuild/asof/query's years are recorded: appended directly "
                        "(default: ten years through the ingest take about half an hour), or "
                        "through the broker and the real ingest")  # fmt: skip
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
    if wanted & {"rebuild", "asof", "query", "api"}:
        await guarded(config, report, "load", lambda: phase_loaded(config, report, wanted))
    if wanted & {"backlog", "hostile"}:
        from tests.benchmarks import bench_backlog

        if "backlog" in wanted:
            await guarded(config, report, "backlog",
                          lambda: bench_backlog.phase_backlog(config, report))  # fmt: skip
        if "hostile" in wanted:
            await guarded(config, report, "hostile",
                          lambda: bench_backlog.phase_hostile(config, report))  # fmt: skip
    if "memory" in wanted:
        from tests.benchmarks import bench_memory

        await guarded(config, report, "memory", lambda: bench_memory.phase_memory(config, report))


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
        console.print(summary_table(report))
        for name, failure in report.failures.items():
            console.print(f"[red]{name} failed:[/] {failure}")
        console.print(f"results written to {config.out}")
    if "interrupted" in report.failures:
        return 130
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
