"""`zs up`'s services as child processes: `zs ingest`, `zs relay` and `zs project`, each on a
Python interpreter (and so a core) of its own, as a supervisor would run them.

Invariants: each child gets only its own database login's URL (never the owner's) and the
services' broker URL, in its environment; `zs up` announces itself only once every child has
said it runs (a byte on a pipe, `--ready-fd`); a child that fails (exits other than with 0,
as on a stop) is started again after a pause; on the way out every child gets SIGTERM and is
waited for (SIGKILL after a grace time) before the servers under it stop.
"""

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Collection, Mapping
from pathlib import Path

import structlog

from infra.roles import DbRole
from infra.settings import Settings
from services.pipeline.run import Part

log = structlog.get_logger()
RESTART_PAUSE_S = 1.0
STOP_GRACE_S = 30.0
"""How long a child may take to stop (FastStream waits up to 15 s for handlers in flight)."""
READY_TIMEOUT_S = 120.0
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's multiprocess mode: a process started with it set keeps its metrics in
files there, which the parent reads for its `/metrics`."""


class ChildFailed(Exception):
    """A service process exited before it said it runs."""


def zs_command() -> list[str]:
    """The `zs` of this interpreter."""
    script = Path(sys.executable).parent / "zs"
    return [str(script)] if script.exists() else [sys.executable, "-m", "services.cli.main"]


def child_environment(
    settings: Settings,
    part: Part,
    database_url: str,
    broker_url: str,
    metrics_dir: Path | None = None,
) -> dict[str, str]:
    """This process's environment for `part`: its own login alone, the services' broker, and
    the folder its Prometheus metrics go to (for the parent's `/metrics`), if any."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.pop(METRICS_DIR_VARIABLE, None)
    if metrics_dir is not None:
        env[METRICS_DIR_VARIABLE] = str(metrics_dir.resolve())
    return env | {
        "ZS_DATABASE_URL": "",  # not the owner's: a `.env` file must not bring it back
        part.role.setting: database_url,
        "ZS_BROKER_URL": broker_url,
        "ZS_BROKER_SOURCES": settings.broker_sources,
        "ZS_DATA_DIR": str(settings.data_dir.resolve()),
    }


class Child:
    """One service process, started again whenever it dies until `stop()`."""

    def __init__(self, part: Part, env: Mapping[str, str]) -> None:
        self.part, self.env = part, dict(env)
        self.process: asyncio.subprocess.Process | None = None
        self.stopping = False

    async def start(self) -> None:
        """Start the process and wait until it says it runs."""
        read, write = os.pipe()
        try:
            command = [*zs_command(), self.part.value, "--ready-fd", str(write)]
            self.process = await asyncio.create_subprocess_exec(
                *command, env=self.env, pass_fds=(write,)
            )
        finally:
            os.close(write)
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                said = await asyncio.to_thread(os.read, read, 1)
        finally:
            os.close(read)
        if not said:
            code = await self.process.wait()
            raise ChildFailed(f"`zs {self.part.value}` exited with code {code} while starting")
        log.info("service process running", part=self.part.value, pid=self.process.pid)

    async def supervise(self) -> None:
        """Start the process again each time it dies (until stopped)."""
        while True:
            assert self.process is not None
            code = await self.process.wait()
            if self.stopping or code == 0:  # stopped by a signal (Ctrl-C reaches the group)
                return
            log.error("service process died; starting it again", part=self.part.value,
                      code=code, pause_s=RESTART_PAUSE_S)  # fmt: skip
            await asyncio.sleep(RESTART_PAUSE_S)
            with contextlib.suppress(ChildFailed):
                await self.start()

    async def stop(self) -> None:
        """SIGTERM, wait for the process to stop (SIGKILL after the grace time), also when
        cancelled meanwhile (Ctrl-C cancels `zs up`'s task): the servers must outlive it."""
        self.stopping = True
        stopping = asyncio.ensure_future(self._stop())
        try:
            await asyncio.shield(stopping)
        except asyncio.CancelledError:
            await stopping
            raise

    async def _stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                await process.wait()
        except TimeoutError:
            log.warning("service process did not stop; killed", part=self.part.value)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def children(
    settings: Settings,
    logins: Mapping[DbRole, str],
    broker_url: str,
    parts: Collection[Part],
    metrics_dir: Path | None = None,
) -> AsyncIterator[list[Child]]:
    """Run each of `parts` as a child process (its login from `logins`, its metrics to
    `metrics_dir`) while the block runs."""
    started: list[Child] = []
    async with contextlib.AsyncExitStack() as stack:
        for part in Part:
            if part not in parts:
                continue
            env = child_environment(settings, part, logins[part.role], broker_url, metrics_dir)
            child = Child(part, env)
            stack.push_async_callback(child.stop)
            await child.start()
            supervising = asyncio.create_task(child.supervise())
            stack.callback(supervising.cancel)
            started.append(child)
        yield started
