"""GET /health against a real database."""

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from events.store import EventStore
from services.api.status import look
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


async def test_the_status_names_each_lag_in_events_and_seconds_from_one_read(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    for _ in range(3):  # three transactions: three recording times
        await store.append([figure_event()])
    await owner_connection.execute(
        "INSERT INTO service.checkpoints (projection, position) VALUES ('figures', 2)"
    )
    await owner_connection.execute(
        "INSERT INTO service.relay_checkpoint (id, position) VALUES (true, 1)"
    )
    at = dict(await owner_connection.fetch("SELECT position, recorded_at FROM store.events"))

    status = await look(store, max_lag=1)

    assert (status.position, status.projections, status.database) == (3, {"figures": 2}, True)
    assert status.lag_events["figures"] == 1
    assert status.lag_events["relay"] == 2
    assert status.lag_events["attainment"] == 3  # no checkpoint yet: the whole log is behind
    assert status.lag_seconds["figures"] == (at[3] - at[2]).total_seconds()
    assert status.lag_seconds["relay"] == (at[3] - at[1]).total_seconds()
    assert status.lag_seconds["attainment"] == 0.0  # position 0 was never recorded
    assert "relay lags 2 events (limit 1)" in status.reasons
    assert "figures lags 1 events (limit 1)" not in status.reasons
