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
