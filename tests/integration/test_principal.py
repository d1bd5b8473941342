"""Who wrote each event: `principal` and `channel` are recorded, hashed, verified and shown."""

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from events.log import NewEvent
from events.store import APPEND, EventStore, append_arguments, create_pool
from events.verify import verify_chain
from infra.database import create_database, drop_database
from infra.migrate import discover, migrate
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, figure_envelope, figure_event, unique
from tests.integration.helpers import api_app, api_client, ignore, token
from tests.integration.processes import run_zs

LEGACY_SERVICE_ROLE = "zs_app"
"""The one role of the services before 0013 gave each its own."""
PRINCIPAL_MIGRATION = 12
LEGACY_APPEND = """
SELECT event_id, position, stream_version, duplicate
FROM store.append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""
"""The append as the store called it before 0012 (and before 0016 answered a repeat's original)."""


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process (as `test-source` for `/ingest`)."""
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


@pytest.mark.parametrize(
    "change",
    [
        "principal = 'token:someone-else'",
        "channel = 'zs.ingest'",
        "principal = NULL, channel = NULL",  # made to look like an event from before 0012
    ],
)
async def test_a_changed_principal_or_channel_breaks_the_chain_at_its_position(
    store: EventStore, database_url: str, owner_connection: asyncpg.Connection, change: str
) -> None:
    await store.append([figure_event(principal=f"token:sub-{n}") for n in range(12)])
    await owner_connection.execute("SET session_replication_role = replica")  # skips triggers
    await owner_connection.execute(  # an owner may drop the constraint too
        "ALTER TABLE store.events DROP CONSTRAINT events_principal_channel_given"
    )
    await owner_connection.execute(f"UPDATE store.events SET {change} WHERE position = 8")

    result = run_zs("audit", "verify", database_url=database_url)

    assert result.returncode == 1
    assert "chain broken at position 8" in result.stderr


async def test_an_http_ingested_event_shows_its_token_subject(
    store: EventStore, database_url: str, client: httpx.AsyncClient
) -> None:
    jobcenter, agreement = unique("jc"), unique("agr")
    own_token = {"Authorization": f"Bearer {token('source', source='test-upstream')}"}
    response = await client.post("/ingest", json=agreement_setup(jobcenter, agreement))
    assert {item["status"] for item in response.json()["items"]} == {"recorded"}
    await client.post("/ingest", json=figure_envelope(jobcenter), headers=own_token)

    history = (await client.get(f"/agreements/{agreement}/history")).json()["items"]
    replayed = run_zs("audit", "replay", database_url=database_url)

    assert [(e["principal"], e["channel"]) for e in history] == [
        ("token:test-source", "http")] * 3 + [("token:test-source", "http")]  # fmt: skip
    by_type = {e["type"]: e for e in map(json.loads, replayed.stdout.splitlines())}
    assert by_type["TargetSet"]["principal"] == "token:test-source"
    assert by_type["MonthlyFigureReported"]["principal"] == "token:test-source"
    assert {e["channel"] for e in by_type.values()} == {"http"}
    assert (await verify_chain(store)).intact


async def test_the_principal_is_the_token_subject_not_the_source_claim(
    store: EventStore, client: httpx.AsyncClient
) -> None:
    jobcenter = unique("jc")
    register, *_ = agreement_setup(jobcenter, unique("agr"))
    own = {"Authorization": f"Bearer {token('source', source='test-upstream', sub='svc-42')}"}

    response = await client.post("/ingest", json=register, headers=own)

    [recorded] = [e async for page in store.read_all() for e in page]
    assert response.json()["items"][0]["status"] == "recorded"
    assert (recorded.principal, recorded.channel) == ("token:svc-42", "http")


async def test_the_store_refuses_an_event_without_principal_or_channel(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    event = NewEvent.model_construct(**{**dict(figure_event()), "principal": None})

    with pytest.raises(asyncpg.CheckViolationError, match="principal"):
        await owner_connection.fetch(APPEND, *append_arguments([event], {}))


@pytest.fixture
async def database_before_0012(server_url: str) -> AsyncIterator[str]:
    """A database migrated up to (not including) the migration that adds the principal."""
    name = f"zs_legacy_{uuid.uuid4().hex[:12]}"
    url = await create_database(server_url, name)
    yield url
    await drop_database(server_url, name)


async def test_events_recorded_before_the_principal_existed_still_verify(
    database_before_0012: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = [m for m in discover() if m.version < PRINCIPAL_MIGRATION]
    monkeypatch.setattr("infra.migrate.discover", lambda: earlier)
    await migrate(database_before_0012)
    legacy = [
        NewEvent.model_construct(**{**dict(figure_event()), "principal": None, "channel": None})
        for _ in range(5)
    ]
    owner = await asyncpg.connect(database_before_0012)
    try:  # the append as it was before 0012: fourteen arguments, no principal or channel
        await owner.execute(f"SET ROLE {LEGACY_SERVICE_ROLE}")
        await owner.fetch(LEGACY_APPEND, *append_arguments(legacy, {})[:14])
    finally:
        await owner.close()
    monkeypatch.undo()

    await migrate(database_before_0012)
    pool = await create_pool(database_before_0012)  # the owner: a member of zs_appender
    try:
        store = EventStore(pool)
        await store.append([figure_event(principal="token:after", channel="http")])
        events = [e async for page in store.read_all() for e in page]
        verdict = await verify_chain(store)
    finally:
        await pool.close()

    assert [(e.principal, e.channel) for e in events] == [(None, None)] * 5 + [
        ("token:after", "http")
    ]
    assert verdict.intact and verdict.checked == 6, verdict
