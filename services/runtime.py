"""Wiring: the servers a command runs against, and the store on top of them."""

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from events.store import EventStore, create_pool
from infra.embedded import embedded_postgres_server, embedded_redis_server
from infra.migrate import migrate
from infra.settings import Settings


@dataclass(frozen=True)
class Servers:
    """URLs of the database and the broker in use."""

    database_url: str
    broker_url: str


@contextlib.contextmanager
def database_server(settings: Settings) -> Iterator[str]:
    """The configured database URL, or an embedded PostgreSQL's while the block runs."""
    if settings.database_url:
        yield settings.database_url
    else:
        with embedded_postgres_server(settings.data_dir) as url:
            yield url


@contextlib.contextmanager
def servers(settings: Settings) -> Iterator[Servers]:
    """The configured servers, starting the embedded ones for whatever is not configured."""
    with database_server(settings) as database_url, contextlib.ExitStack() as stack:
        broker_url = settings.broker_url or stack.enter_context(
            embedded_redis_server(settings.data_dir)
        )
        yield Servers(database_url, broker_url)


@contextlib.asynccontextmanager
async def open_store(database_url: str, settings: Settings) -> AsyncIterator[EventStore]:
    """Migrate the database, then yield a store connected as the services' role."""
    await migrate(database_url)
    pool = await create_pool(database_url, role=settings.database_role)
    try:
        yield EventStore(pool)
    finally:
        await pool.close()
