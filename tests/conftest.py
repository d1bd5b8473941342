"""Shared fixtures: a real PostgreSQL (the one named by ZS_DATABASE_URL, else an embedded one
started for the test session), a fresh, migrated database per test, and the services' logins
(created once per session; roles belong to the server)."""

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import structlog

from events.store import EventStore, create_pool
from infra.database import create_database, drop_database, with_database
from infra.embedded import embedded_postgres_server
from infra.roles import DbRole, derived_logins, literal, with_login
from infra.settings import Settings
from services.bootstrap import prepare_database
from tests.pools import close_pool

TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix=f"zs-tests-{os.getuid()}-"))
"""The data directory of the services this test session starts: the passwords of their logins
(a folder per session: two sessions sharing one gave each other's logins new passwords)."""
atexit.register(shutil.rmtree, TEST_DATA_DIR, ignore_errors=True)
TEST_LOGIN = "zs_tests_login"
"""The `store` fixture's login: a member of every service's group, inheriting their rights
(and nothing of the owner's), so a test can append, project and read through one store. The
services themselves connect as their own logins (`service_urls`)."""

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
    await prepare_database(url)
    yield name
    await drop_database(server_url, name)


@pytest.fixture(scope="session")
async def logins(server_url: str, template_database: str) -> dict[DbRole | None, str]:
    """Each service's login (passwords in a folder of the session), and the tests' own."""
    owner_url = with_database(server_url, template_database)
    urls = await derived_logins(owner_url, TEST_DATA_DIR, list(DbRole))
    groups = ", ".join(role.group for role in DbRole)
    connection = await asyncpg.connect(owner_url)
    try:
        password = uuid.uuid4().hex
        if not await connection.fetchval(
            "SELECT true FROM pg_roles WHERE rolname = $1", TEST_LOGIN
        ):
            await connection.execute(f"CREATE ROLE {TEST_LOGIN} LOGIN")
        await connection.execute(
            f"ALTER ROLE {TEST_LOGIN} LOGIN INHERIT PASSWORD {literal(password)}"
        )
        await connection.execute(f"GRANT {groups} TO {TEST_LOGIN}")
    finally:
        await connection.close()
    return {**urls, None: with_login(owner_url, TEST_LOGIN, password)}


@pytest.fixture
async def database_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    """URL of a fresh migrated database of this test's own (as its owner)."""
    name = f"zs_test_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name, template=template_database)
    yield url
    await drop_database(server_url, name)


@pytest.fixture
def service_urls(database_url: str, logins: dict[DbRole | None, str]) -> dict[DbRole, str]:
    """This test's database as each service's login."""
    name = urlsplit(database_url).path.lstrip("/")
    return {role: with_database(url, name) for role, url in logins.items() if role is not None}


@pytest.fixture
def tests_url(database_url: str, logins: dict[DbRole | None, str]) -> str:
    """This test's database as the tests' login (the services' rights together)."""
    return with_database(logins[None], urlsplit(database_url).path.lstrip("/"))


@pytest.fixture
async def store(tests_url: str) -> AsyncIterator[EventStore]:
    """An event store connected as the tests' login (the services' rights together)."""
    pool = await create_pool(tests_url)
    yield EventStore(pool)
    await close_pool(pool)


@pytest.fixture
async def owner_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database owner (a superuser on the test servers)."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()
