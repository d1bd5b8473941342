"""Framework agreements through the ingest, the projection and the API: the seed's NRW inklusiv
from the demo, the rejections of the rules, reports of measures, scope."""

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from events.store import EventStore
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.cli.demo import demo_envelopes
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, unique
from tests.integration.helpers import api_app, api_client, ignore, token

FRAMEWORK_TYPES = {"JobcenterRegistered", "FrameworkAgreementConcluded", "FrameworkJoined"}
NRW = "nrw-inklusiv-2018"


async def ingest(store: EventStore, envelopes: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(status, code) per envelope, after which every projection is up to date."""
    ingestor = Ingestor(store, ignore, today=lambda: date(2026, 11, 21))
    deliveries = [Delivery(json.dumps(e).encode(), unique("d")) for e in envelopes]
    outcomes = await ingestor.ingest(deliveries)
    await ProjectionRunner(store.pool, store, PROJECTIONS).catch_up()
    return [(o.status, o.code) for o in outcomes]


@pytest.fixture
def app(store: EventStore) -> FastAPI:
    return api_app(store, Ingestor(store, ignore))


@pytest.fixture
async def client(app: FastAPI, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client, with the demo's jobcenters and NRW inklusiv (Rhein-Kreis Neuss joined)."""
    seed = [e for e in demo_envelopes() if e["type"] in FRAMEWORK_TYPES]
    assert [status for status, _ in await ingest(store, seed)] == ["recorded"] * len(seed)
    async with api_client(app) as client:
        yield client


def join(jobcenter_id: str, joined_on: str, framework_id: str = NRW) -> dict[str, Any]:
    return envelope("FrameworkJoined", {
        "framework_id": framework_id, "jobcenter_id": jobcenter_id, "joined_on": joined_on,
        "approved_by": ["Kreis", "Agentur für Arbeit"], "measures": ["Beratung"],
    })  # fmt: skip


def report(jobcenter_id: str, text: str, period: str | None = None) -> dict[str, Any]:
    data = {"framework_id": NRW, "jobcenter_id": jobcenter_id, "text": text,
            "measure": "Kritische Prüfung der Aufstellung des Jobcenters im Bereich "
                       "Inklusionskompetenz"}  # fmt: skip
    return envelope("FrameworkMeasureReported", data | ({"period": period} if period else {}))


async def test_the_seed_framework_and_its_member_are_served(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/frameworks")).json()
    detail = await client.get(f"/frameworks/{NRW}")
    joined = (await client.get("/jobcenters/05162/frameworks")).json()
    none = (await client.get("/jobcenters/06437/frameworks")).json()

    assert listed["count"] == 1
    assert listed["items"][0]["framework_id"] == NRW
    assert (listed["items"][0]["land"], listed["items"][0]["member_count"]) == ("DE-NW", 1)
    body = detail.json()
    assert (detail.headers["X-Position"], body["members"][0]["position"]) == ("5", 4)
    assert body["join_deadline"] == "2018-05-14" and body["signed_on"] is None
    assert body["parties"][0].endswith("(MAGS NRW)") and len(body["parties"]) == 4
    [member] = body["members"]
    assert (member["jobcenter_id"], member["name"], member["joined_on"], member["approved_on"]) == (
        "05162", "Jobcenter Rhein-Kreis Neuss", "2018-05-14", "2018-05-07",
    )  # fmt: skip
    assert member["approved_by"] == ["Rhein-Kreis Neuss", "Agentur für Arbeit Mönchengladbach"]
    assert len(member["measures"]) == 3 and member["reports"] == []
    assert joined["count"] == 1
    assert (joined["items"][0]["framework_id"], joined["items"][0]["joined_on"]) == (
        NRW, "2018-05-14"
    )  # fmt: skip
    assert none == {"items": [], "count": 0}


async def test_the_rules_reject_through_the_ingest(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    again = next(e for e in demo_envelopes() if e["type"] == "FrameworkAgreementConcluded")
    outcomes = await ingest(store, [
        join("05162", "2018-05-11"),                      # joined already
        join("06437", "2018-05-11"),                      # Hessen
        join("05162", "2018-05-11", framework_id="nope"),  # unknown framework
        envelope("JobcenterRegistered", {"jobcenter_id": "05111", "name": "Düsseldorf",
                                         "land": "DE-NW", "kind": "gE"}),
        join("05111", "2018-05-15"),                      # after the deadline
        join("05111", "2018-05-14"),
        report("06435", "nicht Mitglied"),
        report("05162", "Aufstellung geprüft", "2018-09"),
        again | {"message_id": unique("again")},
    ])  # fmt: skip

    assert outcomes == [
        ("rejected", "already_joined"), ("rejected", "outside_land"),
        ("rejected", "unknown_framework"), ("recorded", None),
        ("rejected", "join_deadline_passed"), ("recorded", None),
        ("rejected", "not_a_member"), ("recorded", None), ("rejected", "framework_exists"),
    ]  # fmt: skip
    body = (await client.get(f"/frameworks/{NRW}")).json()
    assert [m["jobcenter_id"] for m in body["members"]] == ["05162", "05111"]
    assert [(r["text"], r["period"]) for r in body["members"][0]["reports"]] == [
        ("Aufstellung geprüft", "2018-09")
    ]
    rejections = (await client.get("/rejections")).json()
    assert rejections["count"] == 6


@pytest.mark.parametrize(
    ("claims", "frameworks", "members", "jobcenter_status"),
    [
        ({"land": "DE-NW"}, 1, ["05162"], 200),
        ({"land": "DE-HE"}, 0, None, 404),
        ({"jobcenter_id": "05162"}, 1, ["05162"], 200),
    ],
)
async def test_frameworks_are_scoped(
    client: httpx.AsyncClient, app: FastAPI, claims: dict[str, str], frameworks: int,
    members: list[str] | None, jobcenter_status: int,
) -> None:  # fmt: skip
    headers = {"Authorization": f"Bearer {token('reader', **claims)}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://zs", headers=headers
    ) as reader:
        listed = (await reader.get("/frameworks")).json()
        detail = await reader.get(f"/frameworks/{NRW}")
        joined = await reader.get("/jobcenters/05162/frameworks")

    assert listed["count"] == frameworks
    if members is None:
        assert detail.status_code == 404
    else:
        assert [m["jobcenter_id"] for m in detail.json()["members"]] == members
    assert joined.status_code == jobcenter_status


async def test_unknown_framework_and_jobcenter_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/frameworks/nope")).status_code == 404
    assert (await client.get("/jobcenters/99999/frameworks")).status_code == 404


async def test_member_count_counts_only_the_members_a_reader_may_see(
    client: httpx.AsyncClient, app: FastAPI, store: EventStore
) -> None:
    duesseldorf = envelope("JobcenterRegistered", {"jobcenter_id": "05111", "name": "Düsseldorf",
                                                   "land": "DE-NW", "kind": "gE"})  # fmt: skip
    assert await ingest(store, [duesseldorf, join("05111", "2018-05-14")]) == [
        ("recorded", None), ("recorded", None)]  # fmt: skip
    counts = {}
    for who, claims in {"federal": {}, "Land": {"land": "DE-NW"},
                        "jobcenter": {"jobcenter_id": "05162"}}.items():  # fmt: skip
        headers = {"Authorization": f"Bearer {token('reader', **claims)}"}
        listed = (await client.get("/frameworks", headers=headers)).json()["items"]
        detail = (await client.get(f"/frameworks/{NRW}", headers=headers)).json()
        joined = (await client.get("/jobcenters/05162/frameworks", headers=headers)).json()
        counts[who] = (listed[0]["member_count"], detail["member_count"], len(detail["members"]),
                       joined["items"][0]["member_count"])  # fmt: skip

    assert counts == {"federal": (2, 2, 2, 2), "Land": (2, 2, 2, 2), "jobcenter": (1, 1, 1, 1)}
