"""`zs demo national` as a user runs it, in a small variant: into a running `zs up` (a real
Redis and PostgreSQL), through the broker as its sources; the API sees every jobcenter, type,
agreement and figure; a second run records nothing new. The full national run is `make
demo-national` (docs/operations.md), not part of the test suite."""

import re
from pathlib import Path

import httpx
import pytest

from infra.embedded import free_port
from services.cli.national import TARGETS, national_envelopes
from tests.integration.processes import banner, environment, start, stop, zs

VARIANT = ("--jobcenters", "20", "--years", "2")


@pytest.mark.slow
async def test_a_small_national_demo_through_the_broker_reaches_the_api(tmp_path: Path) -> None:
    expected = national_envelopes(jobcenters=20, years=2)
    env = environment(tmp_path / ".zs", free_port())
    process = start(env, tmp_path / "up.log", "--no-demo")
    try:
        announced = banner(process)
        first = zs(env, "demo", "national", *VARIANT)
        again = zs(env, "demo", "national", *VARIANT)
        bearer = {"Authorization": f"Bearer {announced['token']}"}
        async with httpx.AsyncClient(base_url=announced["API"], headers=bearer) as client:
            ready = await client.get("/ready")
            jobcenters = (await client.get("/jobcenters")).json()
            attainment = (
                await client.get("/attainment", params={"year": 2026, "limit": 500})
            ).json()
            federal = (await client.get("/agreements/bund-2026")).json()
            one = expected[0]["data"]["jobcenter_id"]
            figures = (await client.get("/figures", params={"jobcenter_id": one})).json()
            compared = await client.get(
                "/key-figures",
                params={"jobcenter_id": one, "code": "k2", "compare": "type", "period": "2026-06"},
            )
    finally:
        assert stop(process) == 0

    assert first.returncode == 0, first.stderr
    assert re.match(rf"published {len(expected)}: recorded {len(expected)}, duplicate 0, "
                    r"rejected 0; recorded and projected in [\d.]+ s", first.stdout)  # fmt: skip
    assert again.stdout.startswith(
        f"published {len(expected)}: recorded 0, duplicate {len(expected)}, rejected 0"
    )
    assert ready.status_code == 200, ready.text
    assert ready.json()["position"] == len(expected)
    listed = jobcenters["items"] if isinstance(jobcenters, dict) else jobcenters
    assert len(listed) == 20
    assert all(len(jc["district_key"]) == 5 for jc in listed)
    registered = [e["data"] for e in expected if e["type"] == "JobcenterRegistered"]
    ge = sorted(jc["jobcenter_id"] for jc in registered if jc["kind"] == "gE")
    assert (federal["level"], federal["member_count"]) == ("federal", len(ge))
    assert sorted(m["jobcenter_id"] for m in federal["members"]) == ge
    assert attainment["count"] == 20 * len(TARGETS)  # the jobcenters' targets of 2026
    assert figures["count"] > 0
    assert compared.status_code == 200, compared.text
    [k2] = [item for item in compared.json()["items"] if item["breakdown"] == "total"]
    assert k2["comparison"]["typology_version"] == "2024"
    assert "Traceback" not in (tmp_path / "up.log").read_text()
