"""Least privilege in PostgreSQL: every service's login tries every write it must not do (and
every way to become someone else), each refused with insufficient_privilege; each can do its own
job; migration 0013 hands an older database's read models over and leaves `zs_app` nothing."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
import pytest

from events.rejections import RejectionLog, StoredRejection
from events.store import EventStore, create_pool
from infra.database import create_database, drop_database, with_database
from infra.migrate import MigrationError, discover, migrate
from infra.roles import DbRole
from infra.settings import Settings
from projections.engine.runner import LIVE_SCHEMA, ProjectionRunner, ddl, tables_in
from projections.registry import PROJECTIONS
from services.bootstrap import open_stores
from services.pipeline.relay import SAVE_CHECKPOINT, relay_checkpoint
from tests.factories import figure_event, unique

APPEND_SIGNATURE = (
    "store.append_events(uuid[], text[], text[], integer[], text[], text[], timestamptz[],"
    " text[], text[], text[], text[], text[], text[], integer[], text[], text[])"
)
EMPTY_APPEND = (
    "SELECT * FROM store.append_events('{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',"
    " '{}', '{}', '{}', '{}', '{}', '{}', '{}')"
)
FORGED_EVENT = """
INSERT INTO store.events (position, event_id, stream_id, stream_version, type, schema_version,
    source, message_id, occurred_at, recorded_at, data, prev_hash, hash)
VALUES (999, gen_random_uuid(), 'figures-x', 1, 'MonthlyFigureReported', 1, 'forger', 'm-1',
    now(), now(), '{}', repeat('0', 64), repeat('0', 64))
"""

FORBIDDEN_TO_ALL = [
    # the log: no change, no row but through the append function, no schema change
    "UPDATE store.events SET data = '{}'::jsonb",
    "DELETE FROM store.events",
    "TRUNCATE store.events",
    FORGED_EVENT,
    "ALTER TABLE store.events DISABLE TRIGGER events_append_only",
    "DROP TABLE store.events",
    f"ALTER FUNCTION {APPEND_SIGNATURE} SECURITY INVOKER",
    f"CREATE OR REPLACE FUNCTION {APPEND_SIGNATURE} RETURNS void LANGUAGE sql AS ''",
    f"DROP FUNCTION {APPEND_SIGNATURE}",
    # the rejection log and the migration records: never changed
    "UPDATE service.rejections SET reason = 'forged'",
    "DELETE FROM service.rejections",
    "TRUNCATE service.rejections",
    "DELETE FROM service.schema_migrations",
    "INSERT INTO service.schema_migrations (version, name, checksum) VALUES (99, 'x', 'x')",
    # nobody removes a checkpoint row
    "DELETE FROM service.checkpoints",
    "TRUNCATE service.checkpoints",
    "DELETE FROM service.relay_checkpoint",
    "TRUNCATE service.relay_checkpoint",
    # no new objects outside the read models
    "CREATE TABLE store.forged (x integer)",
    "CREATE TABLE service.forged (x integer)",
    "CREATE SCHEMA forged",
    # becoming someone else
    "SET SESSION AUTHORIZATION {owner}",
    "SET ROLE {owner}",
    "SET ROLE zs_appender",
    "SET ROLE zs_app",
    "RESET ROLE; SET ROLE {owner}",  # RESET goes back to the group the session started as
    "RESET ROLE; DELETE FROM store.events",
    "SET ROLE NONE; SELECT count(*) FROM store.events",
    "SET ROLE NONE; SET ROLE {owner}",
]
READ_MODELS = [
    "UPDATE views.attainment SET status = 'achieved'",
    "DELETE FROM views.figures",
    "INSERT INTO views.jobcenters (jobcenter_id) VALUES ('forged')",
    "TRUNCATE views.figures",
    "DROP TABLE views.attainment",
    "ALTER TABLE views.figures ADD COLUMN forged integer",
    "CREATE TABLE views.forged (x integer)",
    "CREATE TABLE views_rebuild.forged (x integer)",
    "UPDATE service.checkpoints SET position = 0",
    "INSERT INTO service.checkpoints (projection) VALUES ('forged')",
]
RELAY_CHECKPOINT = [
    "UPDATE service.relay_checkpoint SET position = 0",
    "INSERT INTO service.relay_checkpoint (position) VALUES (0)",
]
INGEST_ONLY = [
    EMPTY_APPEND,
    "INSERT INTO service.rejections (delivery_id, code, reason, body, body_size, body_sha256)"
    " VALUES ('d', 'poison', 'forged', '', 0, '')",
]


def forbidden(role: DbRole) -> list[str]:
    """Every statement `role`'s login must be refused."""
    statements = [*FORBIDDEN_TO_ALL]
    statements += [] if role is DbRole.PROJECTOR else READ_MODELS
    statements += [] if role is DbRole.RELAY else RELAY_CHECKPOINT
    statements += [] if role is DbRole.INGEST else INGEST_ONLY
    statements += [f"SET ROLE {other.group}" for other in DbRole if other is not role]
    return statements


CASES = [(role, statement) for role in DbRole for statement in forbidden(role)]


@pytest.fixture(scope="module")
async def shared_database(server_url: str, template_database: str) -> AsyncIterator[str]:
    """One migrated database for the refusals (each runs in a transaction rolled back)."""
    name = f"zs_roles_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name, template=template_database)
    yield url
    await drop_database(server_url, name)


@pytest.mark.parametrize(("role", "statement"), CASES, ids=[f"{r}: {s}" for r, s in CASES])
async def test_every_forbidden_statement_is_refused_for_every_service(
    shared_database: str, logins: dict[DbRole | None, str], role: DbRole, statement: str
) -> None:
    owner = urlsplit(shared_database).username or "postgres"
    url = with_database(logins[role], urlsplit(shared_database).path.lstrip("/"))
    connection = await asyncpg.connect(url, server_settings={"role": role.group})
    try:
        await connection.execute("BEGIN")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(statement.replace("{owner}", f'"{owner}"'))
    finally:
        await connection.close()  # rolls back whatever might have passed


async def test_each_login_is_a_member_of_its_group_only_and_inherits_nothing(
    owner_connection: asyncpg.Connection, logins: dict[DbRole | None, str]
) -> None:
    for role in DbRole:
        login = urlsplit(logins[role]).username
        row = await owner_connection.fetchrow(
            "SELECT r.rolinherit, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,"
            " array(SELECT g.rolname FROM pg_auth_members AS m JOIN pg_roles AS g"
            "       ON g.oid = m.roleid WHERE m.member = r.oid) AS groups"
            " FROM pg_roles AS r WHERE r.rolname = $1",
            login,
        )
        assert row is not None
        assert tuple(row) == (False, False, False, False, False, [role.group]), role
        groups_of_group = await owner_connection.fetchval(
            "SELECT count(*) FROM pg_auth_members AS m JOIN pg_roles AS r ON r.oid = m.member"
            " WHERE r.rolname = $1",
            role.group,
        )
        assert groups_of_group == 0


async def test_each_service_does_its_own_job(service_urls: dict[DbRole, str]) -> None:
    stores = {
        role: EventStore(await create_pool(url, role=role.group))
        for role, url in service_urls.items()
    }
    try:
        ingest, relay, projector, api = (stores[role] for role in DbRole)
        appended = await ingest.append([figure_event(), figure_event()])
        assert [a.position for a in appended] == [1, 2]
        rejection = StoredRejection(unique("d"), "src", "m", "poison", "r", b"x", datetime.now(UTC))
        await RejectionLog(ingest.pool).add([rejection])

        await relay.pool.execute(SAVE_CHECKPOINT, 2)

        runner = ProjectionRunner(projector.pool, projector, PROJECTIONS)
        await runner.catch_up()
        assert await runner.rebuild("figures") == 2  # fresh tables, swapped in

        assert await api.last_position() == 2
        assert await relay_checkpoint(api) == 2
        figures = await projector.pool.fetchval("SELECT count(*) FROM views.figures")
        assert figures > 0
        assert await api.pool.fetchval("SELECT count(*) FROM views.figures") == figures
        assert await api.pool.fetchval("SELECT count(*) FROM service.rejections") == 1
        positions = await api.pool.fetch("SELECT position FROM service.checkpoints")
        assert {row["position"] for row in positions} == {2}
    finally:
        for store in stores.values():
            await store.pool.close()


async def test_an_older_database_hands_its_read_models_to_the_projector(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0013 the services created the read models as zs_app: after it, zs_projector owns
    them, the API reads them, and zs_app holds no privilege on anything."""
    name = f"zs_upgrade_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name)
    try:
        older = [m for m in discover() if m.version < 13]
        monkeypatch.setattr("infra.migrate.discover", lambda: older)
        await migrate(url)
        pool = await create_pool(url, role="zs_app")
        async with pool.acquire() as connection:  # as the services then did, from each DDL
            for projection in PROJECTIONS:
                for statement in ddl(projection, tables_in(LIVE_SCHEMA, projection)):
                    await connection.execute(statement)
        await pool.close()
        monkeypatch.undo()

        assert [m.version for m in await migrate(url)] == [
            m.version for m in discover() if m.version >= 13
        ]

        connection = await asyncpg.connect(url)
        try:
            owners = await connection.fetch(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'views'"
            )
            readable = await connection.fetchval(
                "SELECT bool_and(has_table_privilege('zs_api', schemaname || '.' || tablename,"
                " 'SELECT')) FROM pg_tables WHERE schemaname = 'views'"
            )
            left_to_zs_app = await connection.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname IN"
                " ('store', 'service', 'views', 'views_rebuild') AND (has_table_privilege("
                "'zs_app', schemaname || '.' || tablename, 'SELECT, INSERT, UPDATE, DELETE,"
                " TRUNCATE') OR tableowner = 'zs_app')"
            )
        finally:
            await connection.close()
        assert [row["tableowner"] for row in owners] == ["zs_projector"]
        assert readable is True
        assert left_to_zs_app == 0
    finally:
        await drop_database(server_url, name)


async def test_a_service_with_its_own_login_refuses_a_database_not_migrated(
    service_urls: dict[DbRole, str], owner_connection: asyncpg.Connection
) -> None:
    settings = Settings(api_database_url=service_urls[DbRole.API])
    async with open_stores("", settings, [DbRole.API]) as stores:  # current: it starts
        assert await stores[DbRole.API].last_position() == 0
    await owner_connection.execute("DELETE FROM service.schema_migrations WHERE version = 13")

    with pytest.raises(MigrationError, match="0013_service_roles is not applied"):
        async with open_stores("", settings, [DbRole.API]):
            pass
