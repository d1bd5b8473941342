"""Wiring: the servers a command runs against, and the store on top of them.

With no URLs configured, `zs up` starts the embedded servers and notes their URLs in
`<data dir>/servers.json` while it runs; other commands (`zs publish`, `zs audit ...`) use
those, so they talk to the same Redis and PostgreSQL instead of starting their own.
"""

import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from events.store import EventStore, create_pool
from infra.embedded import embedded_postgres_server, embedded_redis_server
from infra.migrate import migrate
from infra.settings import Settings
from projections.registry import PROJECTIONS
from projections.runner import ProjectionRunner

SERVERS_FILE = "servers.json"


@dataclass(frozen=True)
class Servers:
    """URLs of the database and the broker in use."""

    database_url: str
    broker_url: str


def running_servers(settings: Settings) -> Servers | None:
    """The servers of a `zs up` that is running on this data directory, if any."""
    try:
        noted = json.loads((settings.data_dir / SERVERS_FILE).read_text())
        os.kill(noted.pop("pid"), 0)
    except (OSError, ValueError, KeyError):
        return None
    return Servers(**noted)


@contextlib.contextmanager
def noted_servers(settings: Settings, servers: Servers) -> Iterator[None]:
    """Note `servers` for other commands while the block runs."""
    path: Path = settings.data_dir / SERVERS_FILE
    # Owner only: the broker URL carries the services' broker password.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(asdict(servers) | {"pid": os.getpid()}))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def database_server(settings: Settings) -> Iterator[str]:
    """The configured database URL, a running `zs up`'s, or an embedded PostgreSQL's."""
    if settings.database_url:
        yield settings.database_url
    elif running := running_servers(settings):
        yield running.database_url
    else:
        with embedded_postgres_server(settings.data_dir) as url:
            yield url


@contextlib.contextmanager
def servers(settings: Settings) -> Iterator[Servers]:
    """The configured servers, a running `zs up`'s, or embedded ones started for the block."""
    with database_server(settings) as database_url, contextlib.ExitStack() as stack:
        running = running_servers(settings)
        broker_url = (
            settings.broker_url
            or (running and running.broker_url)
            or stack.enter_context(embedded_redis_server(settings.data_dir, settings.source_names))
        )
        yield Servers(database_url, broker_url)


@contextlib.asynccontextmanager
async def open_store(database_url: str, settings: Settings) -> AsyncIterator[EventStore]:
    """Migrate the database and create missing projection tables, then yield a store connected
    as the services' role."""
    await migrate(database_url)
    pool = await create_pool(database_url, role=settings.database_role)
    try:
        store = EventStore(pool)
        await ProjectionRunner(pool, store, PROJECTIONS).ensure_tables()
        yield store
    finally:
        await pool.close()
