"""Consistency flags of the figures view, through the ingest, the projection and the API: a
total is re-flagged as its parts arrive or are corrected later, and a rebuild agrees."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from projections.agreements.projection import AGREEMENTS
from projections.engine.runner import ProjectionRunner
from projections.figures.projection import FIGURES
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, figure_envelope
from tests.integration.helpers import api_app, api_client, ignore

SUM = "breakdown_sum_exceeds_total"


@pytest.fixture
def runner(store: EventStore) -> ProjectionRunner:
    return ProjectionRunner(store.pool, store, [FIGURES, AGREEMENTS])


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        registered = {"jobcenter_id": "06437", "name": "Kreis", "land": "DE-HE", "kind": "zkT"}
        await send(client, [envelope("JobcenterRegistered", registered)])
        yield client


async def send(client: httpx.AsyncClient, envelopes: list[dict[str, Any]]) -> None:
    response = await client.post("/ingest", json=envelopes)
    assert {i["status"] for i in response.json()["items"]} == {"recorded"}


def figure(breakdown: str, value: int, *, correct: bool = False, **data: Any) -> dict[str, Any]:
    sent = figure_envelope("06437", "2022-03", breakdown=breakdown, value=value, **data)
    if correct:
        sent["type"], sent["data"]["reason"] = "MonthlyFigureCorrected", "Nachmeldungen"
    return sent


async def flags(client: httpx.AsyncClient, runner: ProjectionRunner) -> dict[str, list[str]]:
    """Breakdown -> flags of the figures of 06437 as the API shows them, once projected."""
    await runner.catch_up()
    body = (await client.get("/figures", params={"jobcenter_id": "06437"})).json()
    return {f"{f['indicator']}:{f['breakdown']}": f["flags"] for f in body["items"]}


async def test_flags_follow_the_parts_and_corrections_in_any_order(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    await send(client, [figure("total", 50)])
    assert await flags(client, runner) == {"integrations:total": []}

    await send(client, [figure("women", 30)])  # 30 <= 50
    assert (await flags(client, runner))["integrations:total"] == []

    await send(client, [figure("men", 25)])  # 30 + 25 = 55 > 50: the total is flagged
    assert await flags(client, runner) == {
        "integrations:total": [SUM], "integrations:women": [], "integrations:men": []
    }  # fmt: skip

    await send(client, [figure("total", 60, correct=True)])  # 55 <= 60
    assert (await flags(client, runner))["integrations:total"] == []

    await send(client, [figure("men", 35, correct=True)])  # 30 + 35 = 65 > 60
    assert (await flags(client, runner))["integrations:total"] == [SUM]


async def test_a_share_without_its_fraction_is_flagged_and_a_rebuild_agrees(
    client: httpx.AsyncClient, runner: ProjectionRunner
) -> None:
    ce = {"indicator": "continuous_employment"}
    await send(client, [
        figure("total", 56, numerator=28, denominator=50, **ce),
        figure("women", 60, **ce),
        figure("total", 100), figure("women", 70), figure("men", 40),
    ])  # fmt: skip
    before = await flags(client, runner)

    await runner.rebuild("figures")

    assert before == {
        "continuous_employment:total": [], "continuous_employment:women": ["fraction_missing"],
        "integrations:total": [SUM], "integrations:women": [], "integrations:men": [],
    }  # fmt: skip
    assert await flags(client, runner) == before
