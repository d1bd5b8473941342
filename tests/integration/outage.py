"""A TCP proxy in front of PostgreSQL that a test can cut: every connection through it is
dropped and new ones are refused until it is restored, as when the server or the network is
down."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit, urlunsplit

from infra.embedded import free_port


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
        user = parts.username or "postgres"
        return urlunsplit(("postgresql", f"{user}@127.0.0.1:{self.port}", parts.path, "", ""))

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
