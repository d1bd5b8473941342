"""A store that cannot be reached is the store's failure, never the request's: every read
answers 503 `store_unavailable` while PostgreSQL is cut off (not 500), and a time the database
could not hold is a 422, not a 500."""

from collections.abc import AsyncIterator

import httpx
import pytest

from events.store import EventStore, create_pool
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, figure_envelope, unique
from tests.integration.helpers import api_app, api_client, ignore, token
from tests.integration.outage import CuttableProxy

JOBCENTER, AGREEMENT = unique("jc"), unique("agr")
FIGURE = f"jobcenter_id={JOBCENTER}&indicator=integrations&breakdown=total&period=2022-07"
READS = [
    "/jobcenters", "/agreements", f"/agreements/{AGREEMENT}",
    f"/agreements/{AGREEMENT}/attainment", f"/agreements/{AGREEMENT}/attainment?format=csv",
    f"/agreements/{AGREEMENT}/attainment?as_of_position=3",
    f"/agreements/{AGREEMENT}/attainment?as_published=2030-01-01T00:00:00Z",
    f"/agreements/{AGREEMENT}/history", f"/agreements/{AGREEMENT}/changes", "/attainment",
    "/attainment?format=csv", "/figures", "/figures?as_published=2030-01-01T00:00:00Z",
    f"/figures/vintages?{FIGURE}", "/key-figures", "/key-figures?level=land", "/frameworks",
    "/frameworks/fw-1", f"/jobcenters/{JOBCENTER}/frameworks", "/rejections",
    "/agreements?min_position=1",
]  # fmt: skip
CALLERS = {"auditor": {}, "reader of a Land": {"land": "DE-HE"},
           "reader of a jobcenter": {"jobcenter_id": JOBCENTER}}  # fmt: skip


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[CuttableProxy]:
    """A proxy in front of the test's database that the test can cut off."""
    async with CuttableProxy(database_url).serving() as proxy:
        yield proxy


@pytest.fixture
async def client(proxy: CuttableProxy) -> AsyncIterator[httpx.AsyncClient]:
    """The API over a store reached through the proxy, with an agreement and a figure."""
    pool = await create_pool(proxy.proxied_url, min_size=2)
    store = EventStore(pool)
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        sent = [*agreement_setup(JOBCENTER, AGREEMENT), figure_envelope(JOBCENTER)]
        response = await client.post("/ingest", json=sent)
        assert {item["status"] for item in response.json()["items"]} == {"recorded"}
        yield client
    pool.terminate()


@pytest.mark.parametrize("claims", CALLERS.values(), ids=CALLERS.keys())
async def test_every_read_answers_503_while_the_database_is_cut_off(
    client: httpx.AsyncClient, proxy: CuttableProxy, claims: dict[str, str]
) -> None:
    role = "reader" if claims else "auditor"
    headers = {"Authorization": f"Bearer {token(role, **claims)}"}
    paths = READS if role == "auditor" else [p for p in READS if p != "/rejections"]
    proxy.cut()

    answers = {path: await client.get(path, headers=headers) for path in paths}

    wrong = {
        path: (r.status_code, r.text[:120])
        for path, r in answers.items()
        if r.status_code != 503 or r.json()["error"]["code"] != "store_unavailable"
    }
    assert wrong == {}


async def test_reads_answer_again_once_the_database_is_back(
    client: httpx.AsyncClient, proxy: CuttableProxy
) -> None:
    proxy.cut()
    assert (await client.get("/agreements")).status_code == 503
    proxy.restore()

    response = await client.get("/agreements")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/rejections?since=9999-12-31T23:59:59-23:59",
        "/rejections?since=0001-01-01T00:00:00%2B23:59",
        f"/agreements/{AGREEMENT}/attainment?as_of=9999-12-31T23:59:59-23:59",
        f"/agreements/{AGREEMENT}/attainment?as_published=9999-12-31T23:59:59-23:59",
        "/figures?as_published=9999-12-31T23:59:59-23:59",
    ],
)
async def test_a_time_the_database_cannot_hold_is_a_422(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
