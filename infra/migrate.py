"""Forward-only SQL migrations from `infra/migrations/NNNN_name.sql`, applied under a lock."""

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

MIGRATION_LOCK_KEY = 0x5A53_4D49  # "ZSMI": one migrator per database at a time

BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS service;
CREATE TABLE IF NOT EXISTS service.schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version, checksum FROM service.schema_migrations"
RECORD_APPLIED = (
    "INSERT INTO service.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
)
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration file is malformed, or one already applied was edited afterwards."""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the file's text: an applied migration must never change."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover() -> list[Migration]:
    """All migration files shipped in `infra/migrations`, in version order."""
    found = []
    for entry in resources.files("infra.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file name {entry.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda migration: migration.version)


async def check_applied(pool: asyncpg.Pool) -> None:
    """Refuse a database whose migrations are not all applied, or were edited afterwards: for
    a service that connects with its own login and cannot migrate."""
    try:
        rows = await pool.fetch(SELECT_APPLIED)
    except asyncpg.UndefinedTableError:
        rows = []
    applied: dict[int, str] = {row["version"]: row["checksum"] for row in rows}
    for migration in discover():
        name = f"{migration.version:04d}_{migration.name}"
        if migration.version not in applied:
            raise MigrationError(f"migration {name} is not applied: run `zs migrate` first")
        if applied[migration.version] != migration.checksum:
            raise MigrationError(f"migration {name} was changed after it was applied")


async def migrate(database_url: str) -> list[Migration]:
    """Apply every migration not yet recorded; return the ones applied now. Safe to re-run."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        await connection.execute(BOOTSTRAP)
        rows = await connection.fetch(SELECT_APPLIED)
        applied: dict[int, str] = {row["version"]: row["checksum"] for row in rows}
        newly_applied = []
        for migration in discover():
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed "
                        "after it was applied; add a new migration instead"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    RECORD_APPLIED, migration.version, migration.name, migration.checksum
                )
            newly_applied.append(migration)
        return newly_applied
    finally:
        await connection.close()  # closing the session releases the advisory lock
