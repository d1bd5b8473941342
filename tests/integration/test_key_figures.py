"""Key figures through the ingest, the projection and `GET /key-figures`; a rebuild agrees."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from projections.key_figures import KEY_FIGURES, shift
from projections.runner import ProjectionRunner
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, figure_envelope
from tests.integration.helpers import api_app, api_client


async def ignore(payload: dict[str, Any]) -> None:
    """Rejections are not published in these tests."""


@pytest.fixture
def runner(store: EventStore) -> ProjectionRunner:
    return ProjectionRunner(store.pool, store, [KEY_FIGURES])


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


async def send(client: httpx.AsyncClient, envelopes: list[dict[str, Any]]) -> None:
    response = await client.post("/ingest", json=envelopes)
    assert {i["status"] for i in response.json()["items"]} == {"recorded"}


def series(indicator: str, first: str, values: list[int]) -> list[dict[str, Any]]:
    return [figure_envelope("06437", shift(first, n), indicator=indicator, value=v,
                            status="final") for n, v in enumerate(values)]  # fmt: skip


async def key_figures(client: httpx.AsyncClient, runner: ProjectionRunner, **params: str) -> Any:
    await runner.catch_up()
    body = (await client.get("/key-figures", params={"jobcenter_id": "06437", **params})).json()
    return [(k["code"], k["period"], k["value"], k["numerator"], k["denominator"])
            for k in body["items"]]  # fmt: skip


async def test_key_figures_follow_their_base_series(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    registered = {"jobcenter_id": "06437", "name": "Kreis", "land": "DE-HE", "kind": "zkT"}
    await send(client, [
        envelope("JobcenterRegistered", registered),
        *series("integrations", "2022-01", [10] * 12),
        *series("elb_stock", "2021-12", [1000] * 12),
        *series("ltb_stock", "2021-03", [2000]), *series("ltb_stock", "2022-03", [1900]),
    ])  # fmt: skip

    assert await key_figures(client, runner) == [
        ("k2", "2022-12", 12, 120, 1000),  # 120 / mean(1000 x 12)
        ("k3", "2022-03", -5, 1900, 2000),  # 1900 / 2000 - 1
    ]

    correction = series("elb_stock", "2021-12", [1120])[0] | {"type": "MonthlyFigureCorrected"}
    correction["data"]["reason"] = "Nachmeldungen"
    await send(client, [correction, *series("ltb_stock", "2021-03", [0])])

    # (1120 + 11 x 1000) / 12 = 1010, 120 / 1010 = 11.88 %; a zero stock a year earlier: no K3.
    assert await key_figures(client, runner) == [("k2", "2022-12", 11.88, 120, 1010)]
    before = await key_figures(client, runner, code="k2", year="2022")
    await runner.rebuild("key_figures")
    assert await key_figures(client, runner, code="k2", year="2022") == before
