"""Shared fixtures: a real PostgreSQL (the one named by ZS_DATABASE_URL, else an embedded one
started for the test session) and a fresh, migrated database per test."""

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import structlog

from events.store import EventStore, create_pool
from infra.database import create_database, drop_database
from infra.embedded import embedded_postgres_server
from infra.migrate import migrate
from infra.settings import Settings
from projections.registry import PROJECTIONS
from projections.runner import ProjectionRunner

SERVICE_ROLE = "zs_app"

# Plain tracebacks in the tests' logs: structlog's default renders rich tracebacks with every
# local, which costs seconds each while a test holds a server down and the services retry.
structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        ),
    ]
)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server the tests may create databases on."""
    configured = Settings().database_url
    if configured:
        yield configured
        return
    with (
        tempfile.TemporaryDirectory(prefix="zs-test-") as data_dir,
        embedded_postgres_server(Path(data_dir), delete=True) as url,
    ):
        yield url


@pytest.fixture(scope="session")
async def template_database(server_url: str) -> AsyncIterator[str]:
    """A migrated database with every projection's tables, copied for each test."""
    name = f"zs_template_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name)
    await migrate(url)
    pool = await create_pool(url, role=SERVICE_ROLE)
    await ProjectionRunner(pool, EventStore(pool), PROJECTIONS).ensure_tables()
    await pool.close()
    yield name
    await drop_database(server_url, name)


@pytest.fixture
async def database_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    """URL of a fresh migrated database of this test's own."""
    name = f"zs_test_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name, template=template_database)
    yield url
    await drop_database(server_url, name)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    """An event store connected as the services' role."""
    pool = await create_pool(database_url, role=SERVICE_ROLE)
    yield EventStore(pool)
    await pool.close()


@pytest.fixture
async def owner_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database owner (a superuser on the test servers)."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()
