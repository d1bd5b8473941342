"""The benchmark run's settings, report and small helpers, shared by every phase."""

import shutil
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from tests.benchmarks.national import encode, is_hostile, national_workload

PHASES = (
    "append", "e2e", "rebuild", "asof", "query", "api", "backlog", "hostile", "memory",
)  # fmt: skip
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
    memory: int
    """Messages published and settled while Redis's memory is sampled (`bench_memory`)."""


SCALES = {
    "quick": Scale("quick", 40, 1, 1, 2_000, 3.0, 100, 50_000, 20_000, 20_000, 5_000, 100_000),
    "full": Scale(
        "full", 404, 1, 10, 20_000, 10.0, 400, 1_000_000, 50_000, 100_000, 20_000, 1_000_000
    ),
}


@dataclass(frozen=True)
class Goal:
    """One figure of issue 21's table: what it is, its goal, and how to measure it."""

    figure: str
    goal: str
    measured_by: str


ONE_YEAR = "--only rebuild (quick scale), or --only e2e,rebuild"
TEN_YEARS = "--only rebuild at full scale"
GOALS = {
    "e2e": Goal("end to end, one national year", "≥ 5,000 msg/s", "--only e2e"),
    "cpu": Goal("CPU per message, every process and PostgreSQL", "≤ 0.3 ms", "--only e2e"),
    "rebuild_1y": Goal("rebuild of every projection, one year", "≤ 6 s", ONE_YEAR),
    "rebuild_10y": Goal("rebuild of every projection, ten years", "≤ 60 s", TEN_YEARS),
    "rebuild_rss": Goal("rebuild peak RSS, ten years", "≤ 500 MB", TEN_YEARS),
    "attainment": Goal("GET /agreements/{id}/attainment, wrk 20 connections",
                       "≥ 2,000 req/s, p99 ≤ 20 ms", "--only api"),
    "peer_ratio": Goal("the same ÷ the bare FastAPI + asyncpg peer (same run)",
                       "≥ 0.8 per process", "--only api"),
    "health": Goal("GET /health", "≥ 3,000 req/s", "--only api"),
    "figures": Goal("GET /figures?jobcenter_id=&indicator=&year=", "≥ 1,500 req/s", "--only api"),
    "asof": Goal("as-of attainment p95", "≤ 50 ms", "--only asof"),
    "tree_rss": Goal("peak RSS of the `zs up` tree", "≤ 400 MB", "--only e2e"),
    "append_1": Goal("append ÷ eventsourcing, batch 1", "≥ 1.0", "--only append"),
    "append_100": Goal("append ÷ eventsourcing, batch 100", "≥ 1.5", "--only append"),
    "append_1000": Goal("append ÷ eventsourcing, batch 1,000", "≥ 1.5", "--only append"),
}  # fmt: skip
"""Issue 21's table in its order: the summary `make bench` prints at the end."""


@dataclass
class Figure:
    """One row of the table; `issue` names its row of `GOALS`, if it has one."""

    name: str
    goal: str
    value: str
    passed: bool | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    issue: str | None = None


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

    def add_goal(self, key: str, name: str, value: str, passed: bool | None,
                 **numbers: Any) -> None:  # fmt: skip
        """Add a row of issue 21's table (`GOALS[key]`), with that goal."""
        self.figures.append(Figure(name, GOALS[key].goal, value, passed, numbers, key))

    def summary(self) -> list[dict[str, Any]]:
        """Every row of `GOALS` in order: measured, goal, met (None: not measured)."""
        rows = []
        for key, goal in GOALS.items():
            found = [figure for figure in self.figures if figure.issue == key]
            measured = found[-1].value if found else f"not measured ({goal.measured_by})"
            rows.append({"figure": goal.figure, "measured": measured, "goal": goal.goal,
                         "met": found[-1].passed if found else None})  # fmt: skip
        return rows


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


async def guarded(config: Config, report: Report, name: str,
                  run: Callable[[], Any]) -> None:  # fmt: skip
    """Run one phase; a failure is reported and the next phase runs."""
    try:
        await run()
    except Exception as error:  # one phase failing must not stop the others
        config.console.print(f"[red]phase {name} failed:[/] {error}")
        report.failures[name] = f"{type(error).__name__}: {error}"
        report.add(f"{name}", "—", f"FAILED: {type(error).__name__}", False)
