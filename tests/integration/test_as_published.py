""" "As published at" (the envelopes' `occurred_at`) on the attainment and figures reads: history
recorded out of publication order, so the answer is not a prefix of the log."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, figure_envelope
from tests.integration.helpers import api_app, api_client, ignore

APRIL, MAY, LATER = "2022-04-30T00:00:00Z", "2022-05-31T00:00:00Z", "2100-01-01T00:00:00Z"


def published(at: str, period: str, value: int, **data: Any) -> dict[str, Any]:
    sent = figure_envelope("06437", period, value=value, **data) | {"occurred_at": at}
    if "reason" in data:
        sent["type"] = "MonthlyFigureCorrected"
    return sent


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """Agreement odw (at least 770 integrations), its figures recorded later, not in the order
    they were published (February's May publication before January's April one)."""
    setup = [e | {"occurred_at": "2022-03-01T09:00:00Z"} for e in agreement_setup("06437", "odw")]
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        response = await client.post("/ingest", json=[
            *setup,
            published("2022-05-27T08:00:00Z", "2022-02", 50),                     # 5
            published("2022-04-27T08:00:00Z", "2022-01", 60),                     # 6
            published("2022-04-27T08:00:00Z", "2022-01", 65, breakdown="women"),  # 7
            published("2022-05-27T08:00:00Z", "2022-01", 70, reason="Nachmeldungen"),  # 8
        ])  # fmt: skip
        assert {i["status"] for i in response.json()["items"]} == {"recorded"}
        await ProjectionRunner(store.pool, store, PROJECTIONS).catch_up()
        yield client


async def test_attainment_as_published_uses_only_what_was_published_by_then(
    client: httpx.AsyncClient,
) -> None:
    async def actual(**params: str) -> tuple[int, Any, Any]:
        response = await client.get("/agreements/odw/attainment", params=params)
        assert response.status_code == 200, response.json()
        target = response.json()["targets"][0]
        return response.json()["position"], target["actual"], target["months_reported"]

    head = len(agreement_setup("06437", "odw")) + 4
    assert await actual(as_published=APRIL) == (head, 60, 1)
    assert await actual(as_published=MAY) == (head, 120, 2)  # the correction replaces 60
    assert await actual(as_published=LATER) == await actual()
    # Both clocks: as known at position 5 (only February, published in May, was recorded) ...
    assert await actual(as_published=APRIL, as_of_position="5") == (5, None, 0)
    # ... and at position 6, before the correction of January was recorded.
    assert await actual(as_published=MAY, as_of_position="6") == (6, 110, 2)


async def test_an_agreement_not_yet_published_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/agreements/odw/attainment", params={"as_published": "2022-02-01T00:00:00Z"}
    )

    assert response.status_code == 404


async def test_figures_as_published_with_revisions_and_flags(client: httpx.AsyncClient) -> None:
    async def figures(**params: str) -> list[tuple[Any, ...]]:
        body = (await client.get("/figures", params=params)).json()
        assert body["count"] == (3 if params.get("as_published") == MAY else len(body["items"]))
        return [(f["breakdown"], f["period"], f["value"], f["revision_count"], f["flags"])
                for f in body["items"]]  # fmt: skip

    # January published on 27 April lies inside its waiting period (until 1 May), February
    # published on 27 May inside its own (until 1 June): both are flagged `waiting_period`.
    assert await figures(as_published=APRIL) == [
        ("total", "2022-01", 60, 0, ["breakdown_sum_exceeds_total", "waiting_period"]),
        ("women", "2022-01", 65, 0, ["waiting_period"]),
    ]
    assert await figures(as_published=MAY) == [
        ("total", "2022-01", 70, 1, []),
        ("total", "2022-02", 50, 0, ["waiting_period"]),
        ("women", "2022-01", 65, 0, ["waiting_period"]),
    ]
    assert await figures(as_published=MAY, limit="1", offset="1") == [
        ("total", "2022-02", 50, 0, ["waiting_period"])
    ]
    live = (await client.get("/figures")).json()
    assert (await client.get("/figures", params={"as_published": LATER})).json() == live


async def test_a_time_without_a_zone_is_refused(client: httpx.AsyncClient) -> None:
    """Times carry a time zone (contract, general conventions); before, comparing one without
    with the recorded times answered 500."""
    naive = await client.get("/agreements/odw/attainment", params={"as_published": MAY[:-1]})

    assert naive.status_code == 422, naive.text
    assert "time zone" in naive.text
