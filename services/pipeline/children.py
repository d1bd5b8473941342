"""`zs up`'s services as child processes: `zs ingest`, `zs relay` and `zs project`, each on a
Python interpreter (and so a core) of its own, as a supervisor would run them; and the HTTP API's
workers (`zs api-worker`, `ZS_API_WORKERS` of them), which serve one listening socket that the
parent bound and hands down.

Invariants: each child gets only its own database login's URL (never the owner's) and the
services' broker URL, in its environment; `zs up` announces itself only once every child has
said it runs (a byte on a pipe, `--ready-fd`) within `ZS_START_TIMEOUT_S`: connected and
subscribed, before any catch-up or rebuild, which may take long and shows on `/health`; a child
that fails (exits other than with 0, as on a stop) is started again after a pause; on the way
out every child gets SIGTERM and is waited for (SIGKILL after a grace time) before the servers
under it stop.
"""

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from pathlib import Path

import structlog

from infra.roles import DbRole
from infra.settings import Settings
from services.pipeline.run import Part

log = structlog.get_logger()
API_WORKER = "api-worker"
"""The command (and the name in logs) of an HTTP API worker."""
RESTART_PAUSE_S = 1.0
STOP_GRACE_S = 30.0
"""How long a child may take to stop (FastStream waits up to 15 s for handlers in flight)."""
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
    logins: Mapping[DbRole, str],
    broker_url: str,
    metrics_dir: Path | None = None,
) -> dict[str, str]:
    """This process's environment for a child: its own logins alone (`logins`, never the
    owner's), the services' broker, and the folder its Prometheus metrics go to (for
    `/metrics`), if any."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.pop(METRICS_DIR_VARIABLE, None)
    if metrics_dir is not None:
        env[METRICS_DIR_VARIABLE] = str(metrics_dir.resolve())
    return env | {
        "ZS_DATABASE_URL": "",  # not the owner's: a `.env` file must not bring it back
        **{role.setting: url for role, url in logins.items()},
        "ZS_BROKER_URL": broker_url,
        "ZS_BROKER_SOURCES": settings.broker_sources,
        "ZS_DATA_DIR": str(settings.data_dir.resolve()),
    }


class Child:
    """One service process (`zs <command> ARGS`), started again whenever it dies until
    `stop()`; `pass_fds` are handed down to it; it must say it runs within `start_timeout_s`."""

    def __init__(
        self, command: str, env: Mapping[str, str], start_timeout_s: float,
        args: Sequence[str] = (), pass_fds: Sequence[int] = (),
    ) -> None:  # fmt: skip
        self.command, self.args, self.env = command, list(args), dict(env)
        self.start_timeout_s = start_timeout_s
        self.pass_fds = tuple(pass_fds)
        self.process: asyncio.subprocess.Process | None = None
        self.stopping = False

    async def start(self) -> None:
        """Start the process and wait until it says it runs."""
        read, write = os.pipe()
        try:
            command = [*zs_command(), self.command, *self.args, "--ready-fd", str(write)]
            self.process = await asyncio.create_subprocess_exec(
                *command, env=self.env, pass_fds=(write, *self.pass_fds)
            )
        finally:
            os.close(write)
        try:
            async with asyncio.timeout(self.start_timeout_s):
                said = await asyncio.to_thread(os.read, read, 1)
        finally:
            os.close(read)
        if not said:
            code = await self.process.wait()
            raise ChildFailed(f"`zs {self.command}` exited with code {code} while starting")
        log.info("service process running", part=self.command, pid=self.process.pid)

    async def supervise(self) -> None:
        """Start the process again each time it dies (until stopped)."""
        while True:
            assert self.process is not None
            code = await self.process.wait()
            if self.stopping or code == 0:  # stopped by a signal (Ctrl-C reaches the group)
                return
            log.error("service process died; starting it again", part=self.command,
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
            log.warning("service process did not stop; killed", part=self.command)
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
    api: tuple[socket.socket, int] | None = None,
) -> AsyncIterator[list[Child]]:
    """Run each of `parts` as a child process (its login from `logins`, its metrics to
    `metrics_dir`), and with `api` (a listening socket and a count) that many HTTP API workers
    serving the socket (the API's and the ingest's logins: `POST /ingest`), while the block
    runs."""
    wanted = [
        Child(part.value, child_environment(settings, {part.role: logins[part.role]},
                                            broker_url, metrics_dir), settings.start_timeout_s)
        for part in Part
        if part in parts
    ]  # fmt: skip
    if api is not None:
        listening, count = api
        env = child_environment(
            settings, {role: logins[role] for role in (DbRole.API, DbRole.INGEST)}, broker_url,
            metrics_dir,
        )  # fmt: skip
        fd = listening.fileno()
        wanted += [
            Child(API_WORKER, env, settings.start_timeout_s, ["--socket-fd", str(fd)], [fd])
            for _ in range(count)
        ]
    started: list[Child] = []
    async with contextlib.AsyncExitStack() as stack:
        for child in wanted:
            stack.push_async_callback(child.stop)
            await child.start()
            supervising = asyncio.create_task(child.supervise())
            stack.callback(supervising.cancel)
            started.append(child)
        yield started
