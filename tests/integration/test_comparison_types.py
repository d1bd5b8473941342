"""Comparison types through the ingest, the key_figures projection and `GET /key-figures
?compare=type` on real PostgreSQL: a small type's median, quartiles and ranks computed by hand,
recomputed by a correction and by a late assignment, scoped readers, and a rebuild that agrees
with the live tables row by row."""

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, figure_envelope
from tests.integration.helpers import api_app, api_client, ignore, token

JOBCENTERS = {"06437": "DE-HE", "06435": "DE-HE", "05162": "DE-NW", "09162": "DE-BY",
              "11000": "DE-BE", "03241": "DE-NI"}  # fmt: skip
LTB = {"06437": (2000, 1900), "06435": (1000, 1100), "05162": (3000, 2700),
       "09162": (1000, 1010), "11000": (500, 400), "03241": (100, 100)}  # fmt: skip
"""Long-term recipients in March 2021 and March 2022: K3 -5, +10, -10, +1, -20 and 0 %."""
TYPES = {"06437": "IIb", "06435": "IIb", "05162": "IIb", "09162": "IIb", "11000": "Ia"}
"""03241 has no type for 2022."""


@pytest.fixture
def runner(store: EventStore) -> ProjectionRunner:
    return ProjectionRunner(store.pool, store, PROJECTIONS)


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        await send(client, [
            envelope("JobcenterRegistered", {"jobcenter_id": jobcenter_id, "name": jobcenter_id,
                                             "land": land, "kind": "gE"})
            for jobcenter_id, land in JOBCENTERS.items()
        ])  # fmt: skip
        await send(client, [
            figure_envelope(jobcenter_id, period, indicator="ltb_stock", value=value,
                            status="final")
            for jobcenter_id, stocks in LTB.items()
            for period, value in zip(("2021-03", "2022-03"), stocks, strict=True)
        ])  # fmt: skip
        await send(client, [assigned(j, code) for j, code in TYPES.items()])
        yield client


def assigned(jobcenter_id: str, type_code: str, year: int = 2022) -> dict[str, Any]:
    return envelope("ComparisonTypeAssigned", {
        "jobcenter_id": jobcenter_id, "year": year, "type_code": type_code,
        "type_name": f"Typ {type_code}", "typology": "SGB-II-Typisierung des IAB",
        "typology_version": "2024",
    })  # fmt: skip


async def send(client: httpx.AsyncClient, envelopes: list[dict[str, Any]]) -> None:
    response = await client.post("/ingest", json=envelopes)
    assert {i["status"] for i in response.json()["items"]} == {"recorded"}, response.json()


async def compared(
    client: httpx.AsyncClient, runner: ProjectionRunner, bearer: str | None = None
) -> dict[str, Any]:
    """jobcenter_id -> (value, type_code, n, min, lower quartile, median, upper quartile, max,
    rank) of K3, total, March 2022; None where the jobcenter has no type."""
    await runner.catch_up()
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    params = {"compare": "type", "code": "k3", "period": "2022-03"}
    response = await client.get("/key-figures", params=params, headers=headers)
    assert response.status_code == 200, response.json()
    found = {}
    for item in response.json()["items"]:
        c = item["comparison"]
        found[item["jobcenter_id"]] = c and (
            item["value"], c["type_code"], c["jobcenters"], c["minimum"], c["lower_quartile"],
            c["median"], c["upper_quartile"], c["maximum"], c["rank"],
        )  # fmt: skip
    return found


async def test_a_type_s_statistics_and_ranks_follow_corrections_and_late_assignments(
    client: httpx.AsyncClient, runner: ProjectionRunner, store: EventStore
) -> None:
    # IIb sorted: -10, -5, 1, 10 (n = 4, positions 0.75, 1.5, 2.25): Q1 -10 + 0.75 x 5 = -6.25,
    # median -5 + 0.5 x 6 = -2, Q3 1 + 0.25 x 9 = 3.25; K3 is better lower: -10 is rank 1.
    iib = ("IIb", 4, -10, -6.25, -2, 3.25, 10)
    assert await compared(client, runner) == {
        "05162": (-10, *iib, 1), "06437": (-5, *iib, 2), "09162": (1, *iib, 3),
        "06435": (10, *iib, 4), "11000": (-20, "Ia", 1, -20, -20, -20, -20, -20, 1),
        "03241": None,
    }  # fmt: skip
    body = (await client.get("/key-figures", params={"jobcenter_id": "06437"})).json()
    assert body["items"][0]["comparison"] is None  # only asked for
    params = {"compare": "type", "jobcenter_id": "06437"}
    [row] = (await client.get("/key-figures", params=params)).json()["items"]
    described = ("type_name", "typology", "typology_version", "better")
    assert [row["comparison"][k] for k in described] == [
        "Typ IIb", "SGB-II-Typisierung des IAB", "2024", "lower"]  # fmt: skip

    # 06435 corrected to 900: -10 %, tied with 05162. Sorted -10, -10, -5, 1: Q1 -10,
    # median -7.5, Q3 -5 + 0.25 x 6 = -3.5; both -10 rank 1, the next is 3.
    correction = figure_envelope("06435", "2022-03", indicator="ltb_stock", value=900,
                                 status="final", reason="Nachmeldungen")  # fmt: skip
    correction |= {"type": "MonthlyFigureCorrected", "occurred_at": "2022-12-01T08:00:00Z"}
    await send(client, [correction])
    iib = ("IIb", 4, -10, -10, -7.5, -3.5, 1)
    assert await compared(client, runner) == {
        "05162": (-10, *iib, 1), "06435": (-10, *iib, 1), "06437": (-5, *iib, 3),
        "09162": (1, *iib, 4), "11000": (-20, "Ia", 1, -20, -20, -20, -20, -20, 1),
        "03241": None,
    }  # fmt: skip

    # 09162 assigned to Ia for 2022 afterwards: IIb -10, -10, -5 (Q1 -10, median -10,
    # Q3 -7.5); Ia -20, 1 (Q1 -20 + 0.25 x 21 = -14.75, median -9.5, Q3 -4.25).
    # 03241 gets a type for 2021 only: still none in 2022.
    await send(client, [assigned("09162", "Ia"), assigned("03241", "Ia", 2021)])
    iib = ("IIb", 3, -10, -10, -10, -7.5, -5)
    ia = ("Ia", 2, -20, -14.75, -9.5, -4.25, 1)
    live = await compared(client, runner)
    assert live == {
        "05162": (-10, *iib, 1), "06435": (-10, *iib, 1), "06437": (-5, *iib, 3),
        "11000": (-20, *ia, 1), "09162": (1, *ia, 2), "03241": None,
    }  # fmt: skip

    assert await runner.verify("key_figures") is None  # live rows equal recomputed ones
    await runner.rebuild("key_figures")
    assert await compared(client, runner) == live


async def test_readers_see_their_jobcenters_against_the_whole_type(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    iib = ("IIb", 4, -10, -6.25, -2, 3.25, 10)

    hessen = await compared(client, runner, token("reader", land="DE-HE"))
    one = await compared(client, runner, token("reader", jobcenter_id="09162"))

    assert hessen == {"06437": (-5, *iib, 2), "06435": (10, *iib, 4)}
    assert one == {"09162": (1, *iib, 3)}


async def test_compare_is_for_jobcenter_rows_only(client: httpx.AsyncClient) -> None:
    land = await client.get("/key-figures", params={"level": "land", "compare": "type"})
    other = await client.get("/key-figures", params={"compare": "land"})

    for response in (land, other):
        assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")


ORACLE_STATISTICS = """
SELECT c.typology, c.typology_version, c.type_code, k.code, k.breakdown, k.period,
       count(*)::integer AS jobcenters, min(k.value) AS minimum,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY k.value) AS lower_quartile,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY k.value) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY k.value) AS upper_quartile,
       max(k.value) AS maximum
FROM views.comparison_types AS c
JOIN views.key_figures AS k
    ON k.jobcenter_id = c.jobcenter_id AND substr(k.period, 1, 4)::integer = c.year
GROUP BY 1, 2, 3, 4, 5, 6
"""
"""PostgreSQL's own count, extremes and `percentile_cont` (the same inclusive method, in double
precision) over the live key figures and types: an oracle independent of comparison.py."""
ORACLE_RANKS = """
SELECT k.jobcenter_id, k.code, k.breakdown, k.period,
       rank() OVER (PARTITION BY c.typology, c.typology_version, c.type_code, k.code,
                                 k.breakdown, k.period
                    ORDER BY CASE WHEN k.code = 'k2' THEN -k.value ELSE k.value END)::integer
FROM views.comparison_types AS c
JOIN views.key_figures AS k
    ON k.jobcenter_id = c.jobcenter_id AND substr(k.period, 1, 4)::integer = c.year
"""
"""SQL's `RANK()`, K2 better higher, K1, K1E2 and K3 better lower."""


def rounded(rows: list[Any]) -> set[tuple[Any, ...]]:
    """Rows with every number rounded to 6 decimals (the oracle computes in double precision)."""
    return {tuple(round(float(v), 6) if not isinstance(v, str) else v for v in r) for r in rows}


@pytest.mark.parametrize("seed", [1, 2])
async def test_a_random_history_gives_what_postgres_computes_and_a_rebuild_agrees(
    client: httpx.AsyncClient, runner: ProjectionRunner, store: EventStore, seed: int
) -> None:
    rng = random.Random(seed)
    months = [f"{year}-{month:02d}" for year in (2021, 2022) for month in range(1, 13)]
    sent = [
        figure_envelope(jobcenter_id, period, indicator=indicator, value=rng.randint(low, high),
                        status="final")
        for jobcenter_id in JOBCENTERS
        for indicator, low, high in (("ltb_stock", 80, 120), ("elb_stock", 900, 1100),
                                     ("integrations", 5, 30), ("llu_eur", 9000, 11000))
        for period in months
    ]  # fmt: skip
    corrections = []
    for original in rng.sample(sent, 40):
        correction = json.loads(json.dumps(original)) | {
            "message_id": f"{original['message_id']}-c", "type": "MonthlyFigureCorrected",
            "occurred_at": "2023-02-01T08:00:00Z"}  # fmt: skip
        correction["data"] |= {"value": max(0, original["data"]["value"] + rng.randint(-20, 20)),
                               "reason": "Revision"}  # fmt: skip
        corrections.append(correction)
    assignments = [
        assigned(jobcenter_id, rng.choice(["Ia", "Ib", "IIa"]), year)
        for jobcenter_id in JOBCENTERS for year in (2021, 2022) for _ in range(rng.randint(0, 2))
    ]  # fmt: skip
    history = sent + corrections + assignments
    rng.shuffle(history)
    for start in range(0, len(history), 150):
        await send(client, history[start : start + 150])
        await runner.catch_up()

    statistics = await store.pool.fetch("SELECT * FROM views.comparison_type_statistics")
    ranks = await store.pool.fetch(
        "SELECT jobcenter_id, code, breakdown, period, rank FROM views.comparison_type_ranks"
    )
    assert len(statistics) > 50
    assert rounded(statistics) == rounded(await store.pool.fetch(ORACLE_STATISTICS))
    assert {tuple(r) for r in ranks} == {tuple(r) for r in await store.pool.fetch(ORACLE_RANKS)}
    assert await runner.verify("key_figures") is None
