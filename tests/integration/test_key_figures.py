"""Key figures through the ingest, the projection and `GET /key-figures`: per jobcenter with the
base months they came from, the vintage in force by publication time, the sums per Land and for
Germany and who may see them; a rebuild agrees."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from projections.engine.runner import ProjectionRunner
from projections.key_figures.calculation import shift
from projections.registry import PROJECTIONS
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, figure_envelope
from tests.integration.helpers import api_app, api_client, ignore, token

JOBCENTERS = {"06437": "DE-HE", "06435": "DE-HE", "05162": "DE-NW"}


@pytest.fixture
def runner(store: EventStore) -> ProjectionRunner:
    return ProjectionRunner(store.pool, store, PROJECTIONS)


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        await send(client, [
            envelope("JobcenterRegistered", {"jobcenter_id": jobcenter_id, "name": jobcenter_id,
                                             "land": land, "kind": "zkT"})
            for jobcenter_id, land in JOBCENTERS.items()
        ])  # fmt: skip
        yield client


async def send(client: httpx.AsyncClient, envelopes: list[dict[str, Any]]) -> None:
    response = await client.post("/ingest", json=envelopes)
    assert {i["status"] for i in response.json()["items"]} == {"recorded"}, response.json()


def series(
    indicator: str, first: str, values: list[int], jobcenter_id: str = "06437", **data: Any
) -> list[dict[str, Any]]:
    return [figure_envelope(jobcenter_id, shift(first, n), indicator=indicator, value=v,
                            status="final", **data) for n, v in enumerate(values)]  # fmt: skip


def corrected(sent: dict[str, Any], published: str) -> dict[str, Any]:
    sent = sent | {"type": "MonthlyFigureCorrected", "occurred_at": published}
    sent["data"] = sent["data"] | {"reason": "Nachmeldungen"}
    return sent


async def key_figures(
    client: httpx.AsyncClient, runner: ProjectionRunner, bearer: str | None = None, **params: str
) -> Any:
    await runner.catch_up()
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = await client.get("/key-figures", params=params, headers=headers)
    assert response.status_code == 200, response.json()
    fields = ("level", "land", "jobcenter_id", "code", "period", "value", "numerator",
              "denominator", "jobcenters")  # fmt: skip
    return [tuple(k[f] for f in fields) for k in response.json()["items"]]


async def test_key_figures_follow_their_base_series(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    await send(client, [
        *series("integrations", "2022-01", [10] * 12),
        *series("elb_stock", "2021-12", [1000] * 12),
        *series("ltb_stock", "2021-03", [2000]), *series("ltb_stock", "2022-03", [1900]),
    ])  # fmt: skip

    assert await key_figures(client, runner, jobcenter_id="06437") == [
        ("jobcenter", "DE-HE", "06437", "k2", "2022-12", 12, 120, 1000, 1),  # 120 / 1000
        ("jobcenter", "DE-HE", "06437", "k3", "2022-03", -5, 1900, 2000, 1),  # 1900 / 2000 - 1
    ]
    correction = corrected(series("elb_stock", "2021-12", [1120])[0], "2022-11-27T08:00:00Z")
    await send(client, [correction, *series("ltb_stock", "2021-03", [0])])

    # (1120 + 11 x 1000) / 12 = 1010, 120 / 1010 = 11.88 %; a zero stock a year earlier: no K3.
    assert await key_figures(client, runner, jobcenter_id="06437") == [
        ("jobcenter", "DE-HE", "06437", "k2", "2022-12", 11.88, 120, 1010, 1)]  # fmt: skip
    before = await key_figures(client, runner, code="k2", year="2022")
    await runner.rebuild("key_figures")
    assert await key_figures(client, runner, code="k2", year="2022") == before


async def test_each_value_names_the_base_months_it_came_from(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    await send(client, [*series("llu_eur", "2021-06", [1931500]),
                        *series("llu_eur", "2022-06", [2046300])])  # fmt: skip
    await runner.catch_up()
    body = (await client.get("/key-figures", params={"code": "k1"})).json()

    [k1] = body["items"]
    assert (k1["value"], k1["numerator"], k1["denominator"]) == (5.94, 2046300, 1931500)
    assert [(s["indicator"], s["period"], s["value"], s["position"]) for s in k1["sources"]] == [
        ("llu_eur", "2022-06", 2046300, 5), ("llu_eur", "2021-06", 1931500, 4)]  # fmt: skip
    assert k1["sources"][0]["occurred_at"] == "2022-10-27T08:00:00Z"
    without = (await client.get("/key-figures", params={"code": "k1", "sources": "false"})).json()
    assert without["items"] == [k1 | {"sources": []}]  # the same row, its base months left out


async def test_a_late_older_publication_does_not_replace_a_newer_correction(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    [before, now] = [
        *series("ltb_stock", "2021-03", [2000]),
        *series("ltb_stock", "2022-03", [1900]),
    ]
    correction = corrected(now, "2022-12-01T08:00:00Z") | {"message_id": "c"}
    correction["data"] = correction["data"] | {"value": 1800}
    await send(client, [before, correction])
    await send(client, [now])  # published 2022-10-27, recorded after the correction

    # 1800 / 2000 - 1 = -10 %: the correction published later stays in force.
    assert await key_figures(client, runner, code="k3") == [
        ("jobcenter", "DE-HE", "06437", "k3", "2022-03", -10, 1800, 2000, 1)]  # fmt: skip
    await runner.rebuild("key_figures")
    assert (await key_figures(client, runner, code="k3"))[0][5] == -10


async def test_aggregates_sum_the_members_per_land_and_for_germany(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    ltb = {"06437": (2000, 1900), "06435": (1000, 1100), "05162": (3000, 3300)}
    await send(client, [
        sent for jobcenter_id, (then, now) in ltb.items()
        for sent in series("ltb_stock", "2021-03", [then], jobcenter_id)
        + series("ltb_stock", "2022-03", [now], jobcenter_id)
    ])  # fmt: skip
    await send(client, series("ltb_stock", "2022-03", [500], "06437", breakdown="women"))

    # Hessen: (1900 + 1100) / (2000 + 1000) - 1 = 0 %; NRW: 3300 / 3000 - 1 = 10 %;
    # Germany: 6300 / 6000 - 1 = 5 %. Women: no month a year earlier, no K3 anywhere.
    assert await key_figures(client, runner, level="land") == [
        ("land", "DE-HE", None, "k3", "2022-03", 0, 3000, 3000, 2),
        ("land", "DE-NW", None, "k3", "2022-03", 10, 3300, 3000, 1),
    ]
    assert await key_figures(client, runner, level="germany", period="2022-03") == [
        ("germany", None, None, "k3", "2022-03", 5, 6300, 6000, 3)]  # fmt: skip
    # Drill-down: the members of Hessen's aggregate.
    members = await key_figures(client, runner, land="DE-HE", code="k3", period="2022-03")
    assert [(m[2], m[5]) for m in members] == [("06435", 10), ("06437", -5)]

    hessen = token("reader", land="DE-HE")
    assert await key_figures(client, runner, hessen, level="land") == [
        ("land", "DE-HE", None, "k3", "2022-03", 0, 3000, 3000, 2)]  # fmt: skip
    assert await key_figures(client, runner, hessen, level="germany") == []
    assert [m[2] for m in await key_figures(client, runner, hessen)] == ["06435", "06437"]
    one_jobcenter = token("reader", jobcenter_id="05162")
    assert await key_figures(client, runner, one_jobcenter, level="land") == []
    federal = token("reader")
    assert len(await key_figures(client, runner, federal, level="germany")) == 1


async def test_a_mean_with_more_digits_than_json_keeps_is_answered_rounded(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    stock = [5000, 5100, 5200, 5301, 5402, 5503, 5600, 5700, 5800, 5900, 6000, 6101]
    await send(client, [*series("integrations", "2022-01", [10] * 12),
                        *series("elb_stock", "2021-12", stock)])  # fmt: skip

    # 66,607 / 12 = 5,550.58333...: exact in the view, rounded to 2 decimals in the answer.
    for level in ("jobcenter", "land", "germany"):
        [(*_, value, numerator, denominator, members)] = await key_figures(
            client, runner, level=level, code="k2"
        )
        assert (value, numerator, denominator, members) == (2.16, 120, 5550.58, 1)


async def test_filters_that_do_not_fit_the_level_are_refused(client: httpx.AsyncClient) -> None:
    by_jobcenter = await client.get("/key-figures", params={"level": "land", "jobcenter_id": "x"})
    by_land = await client.get("/key-figures", params={"level": "germany", "land": "DE-HE"})
    bad_period = await client.get("/key-figures", params={"period": "2022-13"})

    for response in (by_jobcenter, by_land, bad_period):
        assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")
