"""`GET /figures/vintages` and `revision_count` through the ingest, the projection and the API."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from events.store import EventStore
from projections.agreements.projection import AGREEMENTS
from projections.engine.runner import ProjectionRunner
from projections.figures.projection import FIGURES
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, figure_envelope
from tests.integration.helpers import api_app, api_client, ignore, token

VINTAGE_KEYS = {
    "type", "value", "numerator", "denominator", "status", "reason", "position", "recorded_at",
    "occurred_at",
}  # fmt: skip
KEY = {"jobcenter_id": "06437", "indicator": "integrations", "breakdown": "total",
       "period": "2022-01"}  # fmt: skip


@pytest.fixture
def app(store: EventStore) -> FastAPI:
    return api_app(store, Ingestor(store, ignore))


@pytest.fixture
async def client(app: FastAPI, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, with two jobcenters and one figure published three times."""
    async with api_client(app) as client:
        registered = [
            envelope("JobcenterRegistered", {"jobcenter_id": jc, "name": "Kreis", "land": land,
                                             "kind": "gE"})
            for jc, land in (("06437", "DE-HE"), ("05162", "DE-NW"))
        ]  # fmt: skip
        correction = figure_envelope("06437", "2022-01", value=62, reason="Nachmeldungen") | {
            "type": "MonthlyFigureCorrected",
            "occurred_at": "2022-05-27T08:00:00Z",
        }
        response = await client.post("/ingest", json=[
            *registered,                                                        # 1-2
            figure_envelope("06437", "2022-01", value=60)
            | {"occurred_at": "2022-04-28T08:00:00Z"},                          # 3
            figure_envelope("06437", "2022-02", value=70),                      # 4
            figure_envelope("06437", "2022-01", value=61, status="final",
                            numerator=None)
            | {"occurred_at": "2022-05-02T08:00:00Z"},                          # 5
            figure_envelope("06437", "2022-01", breakdown="women", value=20),   # 6
            correction,                                                         # 7
        ])  # fmt: skip
        assert {i["status"] for i in response.json()["items"]} == {"recorded"}
        await ProjectionRunner(store.pool, store, [FIGURES, AGREEMENTS]).catch_up()
        yield client


async def test_revision_count_counts_the_publications_after_the_first(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/figures", params={"jobcenter_id": "06437"})).json()

    counts = {(f["breakdown"], f["period"]): f["revision_count"] for f in body["items"]}
    assert counts == {("total", "2022-01"): 2, ("total", "2022-02"): 0, ("women", "2022-01"): 0}


async def test_vintages_list_every_publication_of_the_figure_in_order(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/figures/vintages", params=KEY)
    page = await client.get("/figures/vintages", params=KEY | {"limit": 1, "offset": 1})

    assert (response.status_code, response.headers["X-Position"]) == (200, "7")
    body = response.json()
    assert body["count"] == 3
    assert set(body["items"][0]) == VINTAGE_KEYS
    assert [(v["type"], v["value"], v["status"], v["reason"], v["position"])
            for v in body["items"]] == [
        ("MonthlyFigureReported", 60, "preliminary", None, 3),
        ("MonthlyFigureReported", 61, "final", None, 5),
        ("MonthlyFigureCorrected", 62, "preliminary", "Nachmeldungen", 7),
    ]  # fmt: skip
    assert body["items"][2]["occurred_at"] == "2022-05-27T08:00:00Z"
    assert page.json() == {"items": [body["items"][1]], "count": 3}


@pytest.mark.parametrize(
    "params",
    [KEY | {"period": "2022-03"}, KEY | {"breakdown": "men"}, KEY | {"jobcenter_id": "05162"}],
)
async def test_an_unpublished_figure_is_404(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/figures/vintages", params=params)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_bad_period_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/figures/vintages", params=KEY | {"period": "2022-13"})

    assert response.status_code == 422


@pytest.mark.parametrize(("claims", "status"), [({"land": "DE-HE"}, 200),
                                                ({"land": "DE-NW"}, 404),
                                                ({"jobcenter_id": "06437"}, 200)])  # fmt: skip
async def test_vintages_are_scoped_like_every_read(
    client: httpx.AsyncClient, app: FastAPI, claims: dict[str, str], status: int
) -> None:
    headers = {"Authorization": f"Bearer {token('reader', **claims)}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://zs", headers=headers
    ) as reader:
        response = await reader.get("/figures/vintages", params=KEY)

    assert response.status_code == status


async def test_a_report_recorded_after_its_correction_is_listed_before_it(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    late = figure_envelope("06437", "2022-01", value=59) | {"occurred_at": "2022-04-01T08:00:00Z"}
    response = await client.post("/ingest", json=[late])
    assert response.json()["items"][0]["status"] == "recorded"  # position 8
    await ProjectionRunner(store.pool, store, [FIGURES, AGREEMENTS]).catch_up()

    body = (await client.get("/figures/vintages", params=KEY)).json()
    [figure] = (
        await client.get("/figures", params={"jobcenter_id": "06437", "indicator": "integrations"})
    ).json()["items"][:1]

    assert [(v["value"], v["position"]) for v in body["items"]] == [
        (59, 8),
        (60, 3),
        (61, 5),
        (62, 7),
    ]
    assert (figure["period"], figure["value"], figure["position"], figure["revision_count"]) == (
        "2022-01", 62, 7, 3
    )  # fmt: skip
    assert figure["occurred_at"] == "2022-05-27T08:00:00Z"
