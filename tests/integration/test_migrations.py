"""Migrations: applied once, recorded, safe to run again and concurrently, never edited."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from infra.database import create_database, drop_database
from infra.migrate import Migration, MigrationError, discover, migrate


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    """A database with no migrations applied."""
    name = f"zs_empty_{uuid.uuid4().hex[:12]}"
    yield await create_database(server_url, name)
    await drop_database(server_url, name)


async def test_concurrent_runs_apply_each_migration_once(empty_database: str) -> None:
    results = await asyncio.gather(*(migrate(empty_database) for _ in range(3)))

    applied = sorted(m.version for result in results for m in result)
    assert applied == [m.version for m in discover()]
    connection = await asyncpg.connect(empty_database)
    try:
        recorded = await connection.fetch("SELECT version FROM service.schema_migrations")
        schemas = await connection.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname IN ('store', 'views', 'service')"
        )
    finally:
        await connection.close()
    assert sorted(r["version"] for r in recorded) == applied
    assert len(schemas) == 3


async def test_second_run_applies_nothing(empty_database: str) -> None:
    await migrate(empty_database)

    assert await migrate(empty_database) == []


async def test_an_applied_migration_that_was_edited_is_refused(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(empty_database)
    first, *rest = discover()
    edited = Migration(first.version, first.name, first.sql + "\n-- edited")
    monkeypatch.setattr("infra.migrate.discover", lambda: [edited, *rest])

    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(empty_database)


def test_files_are_numbered_once_each_from_one() -> None:
    # Numbers are handed out to work done in parallel, so a number may stay unused (a gap).
    versions = [m.version for m in discover()]

    assert versions[0] == 1
    assert len(set(versions)) == len(versions)
