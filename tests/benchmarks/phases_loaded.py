"""Phases on a loaded system: rebuild of each projection, as-of attainment, the query API."""

import asyncio
import contextlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from tests.benchmarks.cpu import Sampler
from tests.benchmarks.harness import (
    Config,
    Report,
    auth_headers,
    free_port,
    percentile,
    zs_executable,
)
from tests.benchmarks.system import System, spawn, stop

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


def run_rebuild(
    env: dict[str, str], names: list[str], timeout_s: float, started: Callable[[int], None]
) -> dict[str, Any]:
    """`zs projections rebuild NAMES` (all at once) in a subprocess (`started` is told its pid):
    seconds, CPU seconds of it and its worker processes, the peak RSS of its largest process,
    each projection's seconds."""
    command = [zs_executable(), "projections", "rebuild", *names]
    timed = Path("/usr/bin/time")
    if timed.exists():
        command = [str(timed), "-v", *command]
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    started(process.pid)
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(process)
        raise TimeoutError(
            f"rebuild of {', '.join(names)} took more than {timeout_s:.0f} s"
        ) from None
    seconds = time.perf_counter() - began
    text, output = err.decode(errors="replace"), out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"rebuild failed ({process.returncode}): {text[-2000:]}")

    def measured(label: str) -> float | None:
        match = re.search(rf"{label}: ([0-9.]+)", text)
        return float(match.group(1)) if match else None

    rss_kb, user, system = (measured(label) for label in (
        r"Maximum resident set size \(kbytes\)", r"User time \(seconds\)",
        r"System time \(seconds\)"))  # fmt: skip
    done = re.finditer(r"^(\w+) rebuilt up to position \d+ in ([0-9.]+) s$", output, re.M)
    each = {match.group(1): float(match.group(2)) for match in done}
    return {
        "seconds": seconds, "rss_mb": rss_kb / 1024 if rss_kb is not None else None,
        "cpu_seconds": user + system if user is not None and system is not None else None,
        "projections": each,
    }  # fmt: skip


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
    config: Config, env: dict[str, str], database_url: str, report: Report, years: int
) -> None:
    """Rebuild every projection of a system holding `years` years at once, in one
    `zs projections rebuild` (its worker processes: ZS_REBUILD_WORKERS, default the cores); one
    and ten years are rows of issue 21's table."""
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
    config.console.print(f"rebuild {', '.join(names)} at once ({head:,} events)")
    loop, samplers = asyncio.get_running_loop(), list[tuple[Sampler, asyncio.Task[None]]]()

    def sample(pid: int) -> None:
        sampler = Sampler(pid, database_url, urlsplit(database_url).path.lstrip("/"))
        samplers.append((sampler, loop.create_task(sampler.run())))

    def started(pid: int) -> None:
        loop.call_soon_threadsafe(sample, pid)

    try:
        result = await asyncio.to_thread(run_rebuild, env, names, timeout_s, started)
    finally:
        for _, task in samplers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if samplers:
        result["processes"] = samplers[0][0].by_label()
        result["tree_peak_rss_mb"] = samplers[0][0].tree_peak_rss_mb()
    for name, seconds in result["projections"].items():
        report.add(f"rebuild {name} ({years} y, at once)", "—", f"{seconds:.1f} s",
                   seconds=seconds)  # fmt: skip
    total, peak, cpu = result["seconds"], result["rss_mb"] or 0.0, result["cpu_seconds"]
    cpu_text = f", {cpu:.1f} CPU s" if cpu is not None else ""
    label = f"rebuild all ({len(names)} at once, {years} year(s), {head:,} events)"
    limit_s = {1: 6, 10: 60}.get(years)
    if limit_s is None:
        report.add(label, "—", f"{total:.1f} s{cpu_text}", seconds=total, events=head,
                   cpu_seconds=cpu)  # fmt: skip
    else:
        report.add_goal(f"rebuild_{years}y", label, f"{total:.1f} s{cpu_text}", total <= limit_s,
                        seconds=total, events=head, cpu_seconds=cpu)  # fmt: skip
    if processes := result.get("processes"):
        cpu_by = ", ".join(f"{label} {found['cpu_s']:.1f}" for label, found in processes.items())
        report.add(f"rebuild CPU seconds by process ({years} y, sampled)", "—", cpu_by)
    tree = result.get("tree_peak_rss_mb")
    rss = f"{peak:.0f} MB" + (f" (its processes' peaks summed: {tree:.0f} MB)" if tree else "")
    if years == 10:
        report.add_goal("rebuild_rss", "rebuild peak RSS (10 y, largest process)", rss,
                        peak <= 500, rss_mb=peak, tree_peak_rss_mb=tree)  # fmt: skip
    else:
        report.add(f"rebuild peak RSS ({years} y, largest process)", "—", rss, rss_mb=peak,
                   tree_peak_rss_mb=tree)  # fmt: skip
    report.details.setdefault("rebuild", {})[f"{years} y"] = {"head": head, **result}


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
    report.add_goal("asof", "as-of attainment p50 / p95",
                    f"{p50:.1f} / {p95:.1f} ms" + ("" if ok else f" (statuses {statuses})"),
                    p95 <= 50 and ok, p50_ms=p50, p95_ms=p95)  # fmt: skip
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


async def figure_paths(system: System) -> list[str]:
    """`/figures?jobcenter_id=J&indicator=I&year=Y` for the figures the view holds."""
    connection = await asyncpg.connect(system.database_url)
    try:
        rows = await connection.fetch(
            "SELECT DISTINCT jobcenter_id, indicator, left(period, 4) AS year FROM views.figures"
        )
    finally:
        await connection.close()
    return [f"/figures?jobcenter_id={r['jobcenter_id']}&indicator={r['indicator']}"
            f"&year={r['year']}" for r in rows]  # fmt: skip


async def running_peer(system: System, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`tests.benchmarks.peer` on the system's database and signing key, once it answers."""
    port = free_port()
    key = Path(system.env["ZS_DATA_DIR"]) / "auth" / "signing-key.pem"
    process = spawn(
        [sys.executable, "-m", "tests.benchmarks.peer", "--database-url", system.database_url,
         "--signing-key", str(key), "--port", str(port)],
        system.env, workdir / "peer.log", str(Path.cwd()),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the peer exited: {(workdir / 'peer.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                await http.get(f"{base}/peer/agreements/none")
                return process, base
            await asyncio.sleep(0.2)
    stop(process)
    raise TimeoutError("the peer did not answer within 60 s")


API_WARM_UP_S = 1.0
"""Each `api` run is preceded by this long a run of its own that is not measured: the first
requests of a process open its pool's connections, which a 3 s run (quick) would otherwise
count against its throughput (without it, the attainment run's p99 was 1.7 to 2.3 s)."""


def api_workers(system: System) -> int:
    """The API worker processes `zs up` runs (its children named `api-worker`)."""
    children = Path(f"/proc/{system.process.pid}/task/{system.process.pid}/children")
    count = 0
    with contextlib.suppress(OSError):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError):
                count += b"api-worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return count


async def phase_api(config: Config, system: System, report: Report) -> None:
    """wrk (20 connections) on the attainment, health and figures endpoints and on the bare
    FastAPI + asyncpg peer (one process, the same token checked per request), in the same run:
    the peer before and after the API, their mean the denominator."""
    agreements = [agreement_id for agreement_id, _ in await agreement_positions(system)]
    rng = random.Random(config.seed)
    rng.shuffle(agreements)
    figures = await figure_paths(system)
    rng.shuffle(figures)
    runs = (
        ("peer", [f"/peer/agreements/{a}" for a in agreements]),
        ("GET /agreements/{id}/attainment", [f"/agreements/{a}/attainment" for a in agreements]),
        ("GET /health", ["/health"]),
        ("GET /figures?jobcenter_id=J&indicator=I&year=Y", figures),
        ("peer again", [f"/peer/agreements/{a}" for a in agreements]),
    )
    results: dict[str, dict[str, Any]] = {}
    workers = api_workers(system)
    with tempfile.TemporaryDirectory(prefix="zs-bench-api-") as workdir:
        peer, peer_base = await running_peer(system, Path(workdir))
        try:
            for name, paths in runs:
                paths_file = Path(workdir) / "paths.txt"
                paths_file.write_text("\n".join(paths) + "\n")
                base = peer_base if name.startswith("peer") else system.api
                config.console.print(f"api: {name} ({len(paths):,} paths)")
                await asyncio.to_thread(  # not measured: the pools open their connections
                    load_generator, base, paths_file, API_WARM_UP_S, system.token, Path(workdir)
                )  # fmt: skip
                results[name] = await asyncio.to_thread(
                    load_generator, base, paths_file, config.scale.query_seconds, system.token,
                    Path(workdir),
                )  # fmt: skip
        finally:
            stop(peer)
    peer_rps = (results["peer"]["rps"] + results["peer again"]["rps"]) / 2
    peer_p99 = max(results["peer"]["p99_us"], results["peer again"]["p99_us"]) / 1000

    def shown(name: str) -> str:
        result = results[name]
        errors = f", {result['errors']:,} errors" if result["errors"] else ""
        return (f"{result['rps']:,.0f} req/s, p50 {result['p50_us'] / 1000:.1f} / "
                f"p99 {result['p99_us'] / 1000:.1f} ms{errors}")  # fmt: skip

    attainment = results["GET /agreements/{id}/attainment"]
    p99 = attainment["p99_us"] / 1000
    report.add_goal("attainment", "api: GET /agreements/{id}/attainment, wrk 20 connections",
                    shown("GET /agreements/{id}/attainment"),
                    attainment["rps"] >= 2000 and p99 <= 20 and not attainment["errors"],
                    rps=attainment["rps"], p99_ms=p99, workers=workers)  # fmt: skip
    report.add("api: the peer (bare FastAPI + asyncpg, one process, token checked)", "—",
               f"{peer_rps:,.0f} req/s (mean of before {results['peer']['rps']:,.0f} and after "
               f"{results['peer again']['rps']:,.0f}), p99 ≤ {peer_p99:.1f} ms",
               rps=peer_rps, p99_ms=peer_p99)  # fmt: skip
    ratio = attainment["rps"] / peer_rps
    per_process = ratio / max(workers, 1)
    report.add_goal("peer_ratio", f"api: attainment ÷ peer ({workers} API worker processes)",
                    f"{ratio:.2f} ({per_process:.2f} per process, {workers} workers)",
                    per_process >= 0.8, ratio=ratio, per_process=per_process,
                    workers=workers)  # fmt: skip
    health = results["GET /health"]
    report.add_goal("health", "api: GET /health", shown("GET /health"),
                    health["rps"] >= 3000 and not health["errors"], rps=health["rps"])  # fmt: skip
    figure = results["GET /figures?jobcenter_id=J&indicator=I&year=Y"]
    report.add_goal("figures", "api: GET /figures?jobcenter_id=J&indicator=I&year=Y",
                    shown("GET /figures?jobcenter_id=J&indicator=I&year=Y"),
                    figure["rps"] >= 1500 and not figure["errors"], rps=figure["rps"],
                    p99_ms=figure["p99_us"] / 1000)  # fmt: skip
    report.details["api"] = {"workers": workers, "runs": results}
