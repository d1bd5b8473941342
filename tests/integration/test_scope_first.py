"""A reader scoped to a Land or jobcenter sees nothing else: its scope is checked before any
work that depends on the id it names (an out-of-scope id costs what an unknown one costs, so
its answer's timing tells nothing), and `/health` shows it no per-projection progress."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from events.store import EventStore
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, figure_envelope, unique
from tests.integration.helpers import api_app, api_client, ignore, record, token

JOBCENTER, AGREEMENT = unique("jc"), unique("agr")  # in DE-HE
FIGURE = f"jobcenter_id={JOBCENTER}&indicator=integrations&breakdown=total&period=2022-07"
BY_ID = [
    f"/agreements/{AGREEMENT}/attainment?as_of_position=2",
    f"/agreements/{AGREEMENT}/attainment?as_of=2030-01-01T00:00:00Z",
    f"/agreements/{AGREEMENT}/attainment?as_published=2030-01-01T00:00:00Z",
    f"/agreements/{AGREEMENT}/attainment?as_of_position=2&format=csv",
    f"/agreements/{AGREEMENT}/report?format=pdf",
    f"/agreements/{AGREEMENT}/report?format=xlsx&as_of_position=2",
    f"/agreements/{AGREEMENT}/history",
    f"/agreements/{AGREEMENT}/changes",
    f"/figures/vintages?{FIGURE}",
]
OUTSIDE = {"another Land": {"land": "DE-BY"}, "another jobcenter": {"jobcenter_id": "09162"}}
ANSWER_WITHIN_S = 30.0
"""A guard against a request blocked for good, not a measure of speed."""


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    await record(store, [*agreement_setup(JOBCENTER, AGREEMENT), figure_envelope(JOBCENTER)])
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


@pytest.mark.parametrize("claims", OUTSIDE.values(), ids=OUTSIDE.keys())
async def test_an_id_outside_the_scope_is_refused_before_the_log_is_read(
    client: httpx.AsyncClient, owner_connection: asyncpg.Connection, claims: dict[str, str]
) -> None:
    """With the log locked, a request that reads it waits; one refused first answers 404."""
    headers = {"Authorization": f"Bearer {token('reader', **claims)}"}
    async with owner_connection.transaction():
        await owner_connection.execute("LOCK TABLE store.events IN ACCESS EXCLUSIVE MODE")
        answers = {
            path: await asyncio.wait_for(client.get(path, headers=headers), ANSWER_WITHIN_S)
            for path in BY_ID
        }

    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(BY_ID, 404)
    assert {r.json()["error"]["code"] for r in answers.values()} == {"not_found"}


async def test_an_id_inside_the_scope_is_answered(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {token('reader', land='DE-HE')}"}

    answers = {path: await client.get(path, headers=headers) for path in BY_ID}

    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(BY_ID, 200)


async def test_health_shows_a_scoped_reader_no_per_projection_progress(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    head = await store.last_position()
    scoped = {"Authorization": f"Bearer {token('reader', land='DE-HE')}"}
    federal = {"Authorization": f"Bearer {token('reader')}"}

    to_scoped = await client.get("/health", headers=scoped)
    to_federal = await client.get("/health", headers=federal)

    assert to_scoped.json() == {"status": "ok", "position": head, "projections": {}}
    assert to_scoped.headers["X-Position"] == str(head)
    assert to_federal.json()["projections"]["agreements"] == head
