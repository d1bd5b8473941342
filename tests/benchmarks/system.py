"""The system under test: `zs up` on a fresh database, its progress read from the store."""

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from tests.benchmarks.harness import (
    HEALTH_TIMEOUT_S,
    INGEST_STREAM,
    PUBLISH_CHUNK,
    SAMPLE_EVERY_S,
    STOP_TIMEOUT_S,
    Config,
    auth_headers,
    free_port,
    with_database,
    zs_executable,
)
from tests.benchmarks.national import HOSTILE_SOURCE


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
