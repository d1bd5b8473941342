"""`zs up` as a new user meets it: the banner once the demo is in, the other commands finding it
(`zs check`, `zs publish` with a fate per line, quiet on stderr), the ingest's counters on
`/metrics`, one `zs up` per data folder, and external servers with a fresh data folder."""

import copy
import json
import re
from pathlib import Path

import httpx
import pytest

from infra.embedded import free_port
from infra.roles import DbRole
from services.cli.demo import demo_envelopes
from tests.integration.processes import banner, environment, start, stop, zs


def publishable(path: Path) -> None:
    """Four lines: new, a demo envelope again, a demo key with another value, new (last)."""
    figures = [e for e in demo_envelopes() if e["type"] == "MonthlyFigureReported"]
    conflict = copy.deepcopy(figures[-2])
    conflict["data"]["value"] += 1
    fresh = []
    for n, period in enumerate(("2022-10", "2022-11")):
        envelope = copy.deepcopy(figures[-3])
        envelope["message_id"] += f"-new-{n}"
        envelope["data"]["period"] = period
        fresh.append(envelope)
    lines = [fresh[0], figures[-1], conflict, fresh[1]]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def counted(metrics: str, outcome: str) -> float:
    """The ingest's count of `outcome` in a Prometheus text."""
    found = re.search(rf'^zs_ingest_envelopes_total{{outcome="{outcome}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.slow
async def test_up_with_the_demo_as_the_other_commands_find_it(tmp_path: Path) -> None:
    env = environment(tmp_path / ".zs", free_port())
    process = start(env, tmp_path / "up.log")
    try:
        announced = banner(process)
        bearer = {"Authorization": f"Bearer {announced['token']}"}
        async with httpx.AsyncClient(base_url=announced["API"], headers=bearer) as client:
            ready = await client.get("/ready")
        second = zs(env | {"ZS_HTTP_PORT": str(free_port())}, "up", "--no-demo")
        checked = zs(env, "check")
        publishable(tmp_path / "lines.ndjson")
        published = zs(env, "publish", str(tmp_path / "lines.ndjson"))
        async with httpx.AsyncClient(base_url=announced["API"], headers=bearer) as client:
            metrics = (await client.get("/metrics")).text
    finally:
        assert stop(process) == 0

    assert ready.status_code == 200, ready.text  # the demo is recorded and projected
    assert ready.json()["position"] > 300
    assert second.returncode == 1
    assert "`zs up` runs already on" in second.stderr
    assert "Traceback" not in second.stderr
    assert (checked.returncode, checked.stdout, checked.stderr) == (
        0, "database and broker answer\n", "",
    )  # fmt: skip
    assert published.stdout == "published 4: recorded 2, duplicate 1, rejected 1\n"
    assert published.stderr == ""  # no log lines for a terminal command
    assert counted(metrics, "recorded") >= ready.json()["position"] + 2
    assert counted(metrics, "rejected") >= 1
    assert "Traceback" not in (tmp_path / "up.log").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_up_on_external_servers_with_a_new_data_folder(
    tmp_path: Path, service_urls: dict[DbRole, str], broker_url: str
) -> None:
    logins = {role.setting: url for role, url in service_urls.items()}
    data_dir = tmp_path / "new" / ".zs"
    env = environment(data_dir, free_port(), ZS_BROKER_URL=broker_url, **logins)
    process = start(env, tmp_path / "up.log", "--no-demo")
    try:
        announced = banner(process)
    finally:
        code = stop(process)

    assert announced.get("broker"), (tmp_path / "up.log").read_text()[-2000:]
    assert code == 0
    assert (data_dir / "up.lock").exists()
