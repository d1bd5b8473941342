"""POST /ingest and GET /rejections against a real database."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from events.store import EventStore
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, figure_envelope, unique
from tests.integration.helpers import api_app, api_client, ignore


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process."""
    app = api_app(store, Ingestor(store, ignore))
    async with api_client(app) as client:
        yield client


async def test_an_array_of_envelopes_answers_one_outcome_each(client: httpx.AsyncClient) -> None:
    jobcenter = unique("jc")
    batch = [*agreement_setup(jobcenter, unique("agr")), figure_envelope("nowhere")]

    response = await client.post("/ingest", json=batch)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["status"], i["position"]) for i in items[:4]] == [
        ("recorded", 1), ("recorded", 2), ("recorded", 3), ("recorded", 4),
    ]  # fmt: skip
    assert (items[4]["status"], items[4]["code"]) == ("rejected", "unknown_jobcenter")
    assert items[4]["message_id"] == batch[4]["message_id"]


async def test_a_single_envelope_and_its_repeat(client: httpx.AsyncClient) -> None:
    [register, *_] = agreement_setup(unique("jc"), unique("agr"))

    first = await client.post("/ingest", json=register)
    again = await client.post("/ingest", json=register)

    assert first.json()["items"][0]["status"] == "recorded"
    assert again.json()["items"][0] | {"status": "x"} == first.json()["items"][0] | {"status": "x"}
    assert again.json()["items"][0]["status"] == "duplicate"


async def test_a_body_that_is_not_json_is_rejected_and_kept(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest", content=b"\xff not json at all")

    assert response.json()["items"][0]["code"] == "not_utf8"
    [row] = (await client.get("/rejections")).json()["items"]
    assert (row["body_encoding"], row["code"]) == ("base64", "not_utf8")


async def test_more_than_a_thousand_envelopes_is_refused_whole(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    jobcenter = unique("jc")
    batch = [figure_envelope(jobcenter) for _ in range(1001)]

    response = await client.post("/ingest", json=batch)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert await store.last_position() == 0
    assert (await client.get("/rejections")).json()["count"] == 1


async def test_rejections_filter_by_source_and_time_and_page(client: httpx.AsyncClient) -> None:
    bad = [figure_envelope("nowhere", source=s) for s in ("a", "b", "a", "a")]
    bad = [e | {"source": e["data"].pop("source")} for e in bad]
    await client.post("/ingest", json=bad)

    by_source = (await client.get("/rejections", params={"source": "a", "limit": 2})).json()
    future = (await client.get("/rejections", params={"since": "2999-01-01T00:00:00Z"})).json()

    assert by_source["count"] == 3
    assert [row["message_id"] for row in by_source["items"]] == [
        bad[0]["message_id"], bad[2]["message_id"],
    ]  # fmt: skip
    assert json.loads(by_source["items"][0]["body"])["source"] == "a"
    assert future == {"items": [], "count": 0}
