"""The read API (/jobcenters, /agreements, /figures, history) against a real database.

Its size: every test reads one seeded portfolio whose positions they count on; kept in one module
so the fixture's numbered events stand beside the tests that read them."""

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from projections.agreements.projection import AGREEMENTS
from projections.engine.runner import ProjectionRunner
from projections.figures.projection import FIGURES
from services.api.deps import CATCH_UP_TIMEOUT, wait_for_position
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, envelope, figure_envelope, unique
from tests.integration.helpers import (
    SETTLE_TIMEOUT_S,
    api_app,
    api_client,
    eventually,
    ignore,
    suspended_in,
    token,
)

WAIT_LIMIT = 0.5
HISTORY_KEYS = {
    "event_id", "position", "stream_id", "stream_version", "type", "schema_version", "source",
    "message_id", "occurred_at", "correlation_id", "principal", "channel", "data", "recorded_at",
    "prev_hash", "hash",
}  # fmt: skip
FIGURE_KEYS = {
    "jobcenter_id", "indicator", "breakdown", "period", "value", "numerator", "denominator",
    "status", "revision_count", "position", "flags", "occurred_at",
}  # fmt: skip


@pytest.fixture
def runner(store: EventStore) -> ProjectionRunner:
    """A runner of the figures and agreements projections."""
    return ProjectionRunner(store.pool, store, [FIGURES, AGREEMENTS])


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking in process to the app."""
    app = api_app(store, Ingestor(store, ignore))
    app.state.catch_up_timeout = WAIT_LIMIT
    async with api_client(app) as client:
        yield client


async def record(client: httpx.AsyncClient, envelopes: list[dict[str, Any]]) -> None:
    """Ingest `envelopes` over HTTP; every one must be recorded."""
    response = await client.post("/ingest", json=envelopes)
    assert [i["status"] for i in response.json()["items"]] == ["recorded"] * len(envelopes)


def registered(jobcenter_id: str, land: str, name: str = "Kreis") -> dict[str, Any]:
    """A JobcenterRegistered envelope (its id is its district key)."""
    data = {"jobcenter_id": jobcenter_id, "name": name, "land": land, "kind": "gE",
            "district_key": jobcenter_id}  # fmt: skip
    return envelope("JobcenterRegistered", data)


def concluded(agreement_id: str, jobcenter_id: str, year: int) -> dict[str, Any]:
    """An AgreementConcluded envelope."""
    data = {"agreement_id": agreement_id, "jobcenter_id": jobcenter_id, "year": year,
            "parties": ["Jobcenter", "Land"], "signed_on": f"{year}-03-01"}  # fmt: skip
    return envelope("AgreementConcluded", data)


@pytest.fixture
async def portfolio(client: httpx.AsyncClient, runner: ProjectionRunner) -> None:
    """Three jobcenters in two Länder, four agreements (one closed), figures of two years."""
    await record(client, [
        *agreement_setup("06437", "odw-2022"),                             # 1-4
        registered("05162", "DE-NW"), registered("06435", "DE-HE"),        # 5-6
        concluded("nss-2022", "05162", 2022), concluded("odw-2021", "06437", 2021),  # 7-8
        concluded("mkk-2022", "06435", 2022),                              # 9
        envelope("AgreementClosed", {"agreement_id": "odw-2021", "closed_on": "2022-02-01"}),
        figure_envelope("06437", "2022-01", value=60),                    # 11
        figure_envelope("06437", "2021-12", value=55),                    # 12
        figure_envelope("06437", "2022-02", value=70),                    # 13
        figure_envelope("06437", "2022-01", value=61, status="final"),    # 14
        figure_envelope("05162", "2022-01", value=90, indicator="ltb_stock"),  # 15
    ])  # fmt: skip
    await runner.catch_up()


@pytest.mark.usefixtures("portfolio")
async def test_jobcenters_are_listed_and_paged_with_their_position(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/jobcenters")
    page = await client.get("/jobcenters", params={"limit": 1, "offset": 1})

    assert response.status_code == 200
    assert response.headers["X-Position"] == "15"
    assert response.json()["count"] == 3
    assert [j["jobcenter_id"] for j in response.json()["items"]] == ["05162", "06435", "06437"]
    odw = {"jobcenter_id": "06437", "name": "Odenwaldkreis", "land": "DE-HE", "kind": "zkT"}
    assert response.json()["items"][2] == odw | {"district_key": None, "position": 1}
    assert response.json()["items"][1]["district_key"] == "06435"
    assert page.json() == {"items": [response.json()["items"][1]], "count": 3}


@pytest.mark.usefixtures("portfolio")
async def test_agreements_filter_by_year_jobcenter_and_land_with_status(
    client: httpx.AsyncClient,
) -> None:
    async def ids(**params: Any) -> tuple[list[str], int]:
        body = (await client.get("/agreements", params=params)).json()
        return [a["agreement_id"] for a in body["items"]], body["count"]

    assert await ids() == (["odw-2021", "nss-2022", "mkk-2022", "odw-2022"], 4)
    assert await ids(year=2022) == (["nss-2022", "mkk-2022", "odw-2022"], 3)
    assert await ids(jobcenter_id="06437") == (["odw-2021", "odw-2022"], 2)
    assert await ids(land="DE-HE", year=2022) == (["mkk-2022", "odw-2022"], 2)
    assert await ids(land="DE-BY") == ([], 0)
    assert await ids(limit=2, offset=1) == (["nss-2022", "mkk-2022"], 4)
    [closed] = (await client.get("/agreements", params={"year": 2021})).json()["items"]
    assert (closed["status"], closed["closed_on"], closed["land"]) == (
        "closed",
        "2022-02-01",
        "DE-HE",
    )
    assert (closed["parties"], closed["signed_on"]) == (["Jobcenter", "Land"], "2021-03-01")


async def test_an_agreement_shows_targets_goals_budgets_and_dialogs(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    a = {"agreement_id": "odw-2022"}
    await record(client, [
        *agreement_setup("06437", "odw-2022"),
        envelope("TargetAmended", a | {"target_id": "integrations-total", "value": 790.5,
                                       "effective_from": "2022-07-01", "reason": "dialogue"}),
        envelope("QualitativeGoalSet", a | {"goal_id": "g1", "section": "2", "text": "Frauen",
                                            "state_support": ["ESF", "Coaching"]}),
        envelope("BudgetDeviationRecorded", a | {"budget_line": "training", "period": "2022-05",
                                                 "amount_eur": -900.25, "reason": "cut"}),
        envelope("DialogHeld", a | {"held_on": "2022-06-15", "summary": "mid-year"}),
    ])  # fmt: skip
    await runner.catch_up()

    response = await client.get("/agreements/odw-2022")

    assert (response.status_code, response.headers["X-Position"]) == (200, "8")
    body = response.json()
    assert (body["status"], body["year"], body["parties"]) == ("open", 2022, ["Kreis", "HMSI"])
    [target] = body["targets"]
    assert (target["agreed_value"], target["value_in_force"], target["withdrawn"]) == (
        770, 790.5, False,
    )  # fmt: skip
    assert target["amendments"] == [
        {"value": 790.5, "effective_from": "2022-07-01", "reason": "dialogue", "position": 5}
    ]
    assert body["goals"] == [{"goal_id": "g1", "section": "2", "text": "Frauen",
                              "state_support": ["ESF", "Coaching"], "position": 6}]  # fmt: skip
    [budget] = body["budget_lines"]
    assert (budget["allocated"], budget["current"], budget["measures"]) == (
        1289900, 1288999.75, [],
    )  # fmt: skip
    assert budget["deviations"] == [
        {"period": "2022-05", "amount_eur": -900.25, "reason": "cut", "position": 7}
    ]
    assert body["dialogs"] == [{"held_on": "2022-06-15", "summary": "mid-year", "position": 8}]


async def test_unknown_agreements_are_404_with_a_json_error(client: httpx.AsyncClient) -> None:
    for path in ("/agreements/nope", "/agreements/nope/history"):
        response = await client.get(path)

        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
        assert "nope" in response.json()["error"]["message"]


@pytest.mark.usefixtures("portfolio")
async def test_figures_filter_by_jobcenter_indicator_and_year(client: httpx.AsyncClient) -> None:
    async def periods(**params: Any) -> tuple[list[str], int]:
        body = (await client.get("/figures", params=params)).json()
        return [f"{f['jobcenter_id']}:{f['period']}" for f in body["items"]], body["count"]

    response = await client.get("/figures", params={"jobcenter_id": "06437", "year": 2022})

    assert response.headers["X-Position"] == "15"
    first = response.json()["items"][0]
    assert set(first) == FIGURE_KEYS
    assert (first["value"], first["status"], first["revision_count"], first["position"]) == (
        61, "final", 1, 14,
    )  # fmt: skip
    assert await periods() == (["05162:2022-01", "06437:2021-12", "06437:2022-01",
                                "06437:2022-02"], 4)  # fmt: skip
    assert await periods(indicator="ltb_stock") == (["05162:2022-01"], 1)
    assert await periods(year=2021) == (["06437:2021-12"], 1)
    assert await periods(jobcenter_id="06437", limit=1, offset=2) == (["06437:2022-02"], 3)


@pytest.mark.usefixtures("portfolio")
async def test_history_holds_the_agreement_and_its_figures_of_its_year_in_order(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/agreements/odw-2022/history")
    page = await client.get("/agreements/odw-2022/history", params={"limit": 2, "offset": 3})
    older = await client.get("/agreements/odw-2021/history")

    assert (response.status_code, response.headers["X-Position"]) == (200, "15")
    items = response.json()["items"]
    assert [i["position"] for i in items] == [2, 3, 4, 11, 13, 14]
    assert response.json()["count"] == 6
    assert set(items[0]) == HISTORY_KEYS
    assert (items[0]["type"], items[0]["stream_id"]) == ("AgreementConcluded", "agreement-odw-2022")
    assert items[3]["data"]["value"] == 60
    assert [i["position"] for i in page.json()["items"]] == [11, 13]
    assert [i["position"] for i in older.json()["items"]] == [8, 10, 12]


async def test_min_position_waits_until_the_projection_reaches_it(
    store: EventStore, runner: ProjectionRunner
) -> None:
    app = api_app(store, Ingestor(store, ignore))
    app.state.catch_up_timeout = SETTLE_TIMEOUT_S  # the projection comes when the test says
    async with api_client(app) as client:
        await record(client, agreement_setup(unique("jc"), "agr"))
        asking = asyncio.create_task(client.get("/agreements/agr", params={"min_position": 4}))
        await eventually(
            lambda: suspended_in(wait_for_position, after_binding="position"),
            "the read to find the projection behind and wait",
        )
        assert not asking.done()
        await runner.catch_up()
        response = await asking

    assert (response.status_code, response.headers["X-Position"]) == (200, "4")
    assert response.json()["agreement_id"] == "agr"


@pytest.mark.parametrize(
    "path", ["/jobcenters", "/agreements", "/agreements/agr", "/figures", "/agreements/agr/history"]
)
async def test_min_position_not_reached_in_time_is_503(
    client: httpx.AsyncClient, runner: ProjectionRunner, path: str
) -> None:
    await record(client, agreement_setup(unique("jc"), "agr"))
    await runner.catch_up()

    reached = await client.get(path, params={"min_position": 4})
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await client.get(path, params={"min_position": 5})

    assert (reached.status_code, reached.headers["X-Position"]) == (200, "4")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_caught_up"
    assert WAIT_LIMIT <= loop.time() - started < CATCH_UP_TIMEOUT  # the app's limit, not 5 s


async def test_x_position_follows_each_projection_and_an_empty_read_is_zero(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    await record(client, [registered("06437", "DE-HE"), figure_envelope("06437")])
    runner = ProjectionRunner(store.pool, store, [FIGURES])
    await runner.catch_up()

    jobcenters = await client.get("/jobcenters")
    figures = await client.get("/figures")

    assert (jobcenters.headers["X-Position"], jobcenters.json()) == ("0", {"items": [], "count": 0})
    assert (figures.headers["X-Position"], figures.json()["count"]) == ("2", 1)


@pytest.mark.usefixtures("portfolio")
@pytest.mark.parametrize(
    ("scope", "visible"),
    [
        ({"land": "DE-HE"}, {"06435", "06437"}),
        ({"jobcenter_id": "05162"}, {"05162"}),
        ({"land": ["DE-NW"], "jobcenter_id": "06435"}, {"05162", "06435"}),
        ({}, {"05162", "06435", "06437"}),
    ],
)
async def test_a_reader_sees_only_its_scope_and_404_elsewhere(
    client: httpx.AsyncClient, scope: dict[str, Any], visible: set[str]
) -> None:
    reader = {"Authorization": f"Bearer {token('reader', **scope)}"}
    get = functools.partial(client.get, headers=reader)
    jobcenters = (await get("/jobcenters")).json()["items"]
    agreements = (await get("/agreements")).json()["items"]
    figures = (await get("/figures")).json()["items"]
    portfolio = (await get("/attainment")).json()["items"]
    paths = ("", "/attainment", "/attainment?as_of_position=15", "/history")
    agreements_of = {"odw-2022": "06437", "nss-2022": "05162", "mkk-2022": "06435"}
    answers = {
        agreement_id: [
            (
                (await get(f"/agreements/{agreement_id}{path}")).status_code,
                (await client.get(f"/agreements/{agreement_id}{path}")).status_code,
            )
            for path in paths
        ]
        for agreement_id in agreements_of
    }  # (as the reader, as an auditor)

    assert {j["jobcenter_id"] for j in jobcenters} == visible
    assert {a["jobcenter_id"] for a in agreements} <= visible
    assert {f["jobcenter_id"] for f in figures} <= visible
    assert {row["jobcenter_id"] for row in portfolio} <= visible
    for agreement_id, jobcenter in agreements_of.items():
        for as_reader, as_auditor in answers[agreement_id]:
            assert as_reader == (as_auditor if jobcenter in visible else 404), agreement_id
