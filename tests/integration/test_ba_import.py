"""`zs import` end to end on a real PostgreSQL and a real Redis, the ingest, relay and projector
running: the sample publication's figures appear, importing it again records nothing new, the
later publication's changed value is a correction in `GET /figures/vintages`; a file with a bad
row or an unregistered jobcenter publishes nothing."""

import asyncio
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from events.store import EventStore
from services.bootstrap import Servers, services
from services.cli.demo import demo_envelopes
from services.pipeline.channels import publish_envelopes
from services.pipeline.run import Part
from tests.conftest import TEST_DATA_DIR
from tests.integration.helpers import api_app, api_client, eventually, settings_for
from tests.integration.processes import ZS

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
FEBRUARY, MARCH = SAMPLES / "ba-kennzahlen-2024-02.csv", SAMPLES / "ba-kennzahlen-2024-03.csv"
K3E2 = {"jobcenter_id": "06437", "indicator": "k3e2", "breakdown": "total", "period": "2023-10"}


async def zs_import(urls: Servers, *args: str) -> "subprocess.CompletedProcess[str]":
    """`zs import ARGS` on the test's servers, publishing to `zs.ingest.ba-statistik` (run in a
    thread: the pipeline it waits for runs on this event loop)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")} | {
        "ZS_DATABASE_URL": urls.database_url, "ZS_BROKER_URL": urls.broker_url,
        "ZS_BROKER_SOURCES": "ba-statistik", "ZS_DATA_DIR": str(TEST_DATA_DIR),
    }  # fmt: skip
    return await asyncio.to_thread(
        subprocess.run, [ZS, "import", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
async def test_a_publication_its_repeat_and_its_correction(
    urls: Servers, store: EventStore, tmp_path: Path
) -> None:
    settings = settings_for(urls).model_copy(update={"broker_sources": "ba-statistik"})
    registered = [e for e in demo_envelopes() if e["type"] == "JobcenterRegistered"]
    bad = tmp_path / "bad.csv"
    bad.write_text(FEBRUARY.read_text(encoding="utf-8-sig").replace("3.182", "3,182.0"))
    stranger = tmp_path / "stranger.csv"
    stranger.write_text(FEBRUARY.read_text(encoding="utf-8-sig").replace("06435;", "09999;"))
    async with services(settings, urls, set(Part), api=True) as running:
        await publish_envelopes(running.transport, [json.dumps(e).encode() for e in registered])
        await eventually(lambda: count(store, len(registered)), "the jobcenters registered")
        refused = await zs_import(urls, str(bad))
        unknown = await zs_import(urls, str(stranger))
        dry = await zs_import(urls, str(FEBRUARY), "--dry-run")
        head_before = await store.last_position()
        first = await zs_import(urls, str(FEBRUARY))
        again = await zs_import(urls, str(FEBRUARY))
        later = await zs_import(urls, str(MARCH), "--publication", "2024-03-25")
        head = await store.last_position()
        assigned = [e.data for e in await store.read_stream("jobcenter-06437")
                    if e.type == "ComparisonTypeAssigned"]  # fmt: skip
        async with api_client(api_app(running.store, running.ingestor)) as client:
            figures = await get(client, "/figures", jobcenter_id="06437", indicator="k3e2",
                                year=2023, min_position=head)  # fmt: skip
            vintages = await get(client, "/figures/vintages", **K3E2, min_position=head)
            months = await get(client, "/figures", jobcenter_id="06437", indicator="ltb_stock",
                               year=2023, min_position=head)  # fmt: skip

    assert refused.returncode == 1
    assert "line 14: Wert '3,182.0' is not a German number" in refused.stderr
    assert "nothing published" in refused.stderr
    assert unknown.returncode == 1
    assert "line 16: Jobcenter 09999 is not registered" in unknown.stderr
    assert dry.returncode == 0, dry.stderr
    assert "13 new, 0 corrected, 0 unchanged; 2 comparison type(s)" in dry.stdout
    assert "dry run: nothing published" in dry.stdout
    assert head_before == len(registered)  # nothing of the refused files, nor of the dry run
    assert first.returncode == 0, first.stderr
    assert "published 15: recorded 15, duplicate 0, rejected 0" in first.stdout
    assert again.returncode == 0, again.stderr
    assert "published 15: recorded 0, duplicate 15, rejected 0" in again.stdout
    assert later.returncode == 0, later.stderr
    assert "4 new, 1 corrected, 2 unchanged; 0 comparison type(s)" in later.stdout
    assert "published 5: recorded 5, duplicate 0, rejected 0" in later.stdout
    assert head == len(registered) + 15 + 5
    assert [(a["year"], a["type_code"], a["typology_version"]) for a in assigned] == [
        (2023, "IIIb", "2024")
    ]  # once: the later publication repeats it
    [k3e2] = figures["items"]
    assert (k3e2["value"], k3e2["numerator"], k3e2["revision_count"]) == (19.7, 391, 1)
    assert [(v["type"], v["value"], v["occurred_at"]) for v in vintages["items"]] == [
        ("MonthlyFigureReported", 21.4, "2024-02-26T00:00:00Z"),
        ("MonthlyFigureCorrected", 19.7, "2024-03-25T00:00:00Z"),
    ]
    assert vintages["items"][1]["reason"] == (
        "Korrektur in der Veröffentlichung der BA-Statistik vom 25.03.2024"
    )
    totals = {(f["period"], f["breakdown"]): f["value"] for f in months["items"]}
    assert totals == {("2023-10", "total"): 1987, ("2023-10", "women"): 1071,
                      ("2023-10", "men"): 916, ("2023-11", "total"): 1979}  # fmt: skip


async def count(store: EventStore, expected: int) -> bool:
    """Whether the store holds `expected` events."""
    return await store.last_position() >= expected


async def get(client: httpx.AsyncClient, path: str, **params: object) -> dict[str, object]:
    """A successful answer's JSON."""
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result
