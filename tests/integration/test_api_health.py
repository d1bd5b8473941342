"""GET /health against a real database."""

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from events.store import EventStore
from services.pipeline.ingest import Ingestor
from tests.factories import figure_event
from tests.integration.helpers import api_app, api_client, ignore


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process."""
    app = api_app(store, Ingestor(store, ignore))
    async with api_client(app) as client:
        yield client


async def test_health_reports_position_and_checkpoints(
    client: httpx.AsyncClient, store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    await store.append([figure_event() for _ in range(3)])
    await owner_connection.execute(
        "INSERT INTO service.checkpoints (projection, position) VALUES ('figures', 2)"
    )

    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "position": 3, "projections": {"figures": 2}}
    assert response.headers["X-Position"] == "3"


async def test_health_stays_200_and_says_degraded_when_the_store_is_down(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    await store.pool.close()

    response = await client.get("/health")

    assert response.status_code == 200  # liveness: the process lives; /ready answers 503
    assert response.json()["status"] == "degraded"
    assert response.json()["reasons"][0].startswith("database unreachable")
