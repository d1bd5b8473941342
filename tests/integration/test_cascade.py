"""The steering cascade against the real store, projector and API: Land and federal agreements,
their members, and who sees them."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, unique
from tests.integration.helpers import api_app, api_client, ignore, record, token

LAND = "DE-SL"
"""The Land of this module's jobcenters (no other test registers jobcenters there)."""


def registered(jobcenter_id: str, land: str = LAND) -> dict[str, Any]:
    data = {"jobcenter_id": jobcenter_id, "name": f"Kommunales Jobcenter {jobcenter_id}",
            "land": land, "kind": "zkT", "district_key": "10041"}  # fmt: skip
    return envelope("JobcenterRegistered", data)


def land_agreement(agreement_id: str, land: str = LAND, year: int = 2022) -> dict[str, Any]:
    data = {"agreement_id": agreement_id, "level": "land", "land": land, "year": year,
            "parties": ["Landesministerium", "Kommunale Träger"]}  # fmt: skip
    return envelope("AgreementConcluded", data)


def federal_agreement(agreement_id: str, year: int = 2022) -> dict[str, Any]:
    data = {"agreement_id": agreement_id, "level": "federal", "year": year,
            "parties": ["BMAS", "Bundesagentur für Arbeit"]}  # fmt: skip
    return envelope("AgreementConcluded", data)


def members(agreement_id: str, *jobcenter_ids: str) -> dict[str, Any]:
    return envelope("AgreementMembersSet", {"agreement_id": agreement_id,
                                            "jobcenter_ids": list(jobcenter_ids)})  # fmt: skip


def as_reader(**claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('reader', **claims)}"}


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


async def test_a_land_agreement_shows_its_level_land_members_and_plans(
    store: EventStore, client: httpx.AsyncClient
) -> None:
    first, second, elsewhere = unique("jc"), unique("jc"), unique("jc")
    agreement = unique("land")
    target = {"agreement_id": agreement, "target_id": "integrations-total",
              "indicator": "integrations", "breakdown": "total", "comparator": "at_least",
              "value": 300, "unit": "count", "aggregation": "sum"}  # fmt: skip
    plan = [10, 30, 50, 80, 110, 140, 170, 190, 220, 250, 280, 300]
    await record(store, [
        registered(first), registered(second), registered(elsewhere, "DE-RP"),
        land_agreement(agreement), members(agreement, second, first),
        envelope("TargetSet", target),
        envelope("TargetPlanSet", {"agreement_id": agreement, "target_id": "integrations-total",
                                   "plan": plan}),
    ])  # fmt: skip

    detail = (await client.get(f"/agreements/{agreement}")).json()
    listed = (await client.get("/agreements", params={"land": LAND, "year": 2022})).json()
    jobcenters = (await client.get("/jobcenters", params={"limit": 1000})).json()["items"]

    assert (detail["level"], detail["land"], detail["jobcenter_id"]) == ("land", LAND, None)
    assert [m["jobcenter_id"] for m in detail["members"]] == sorted([first, second])
    assert detail["member_count"] == 2
    assert detail["members"][0] | {"jobcenter_id": "x"} == {
        "jobcenter_id": "x", "name": f"Kommunales Jobcenter {min(first, second)}",
        "land": LAND, "kind": "zkT", "district_key": "10041",
    }  # fmt: skip
    assert [t["plan"] for t in detail["targets"]] == [plan]
    assert agreement in [a["agreement_id"] for a in listed["items"]]
    assert {j["jobcenter_id"]: j["district_key"] for j in jobcenters}[first] == "10041"


async def test_a_member_list_replaces_the_one_before(
    store: EventStore, client: httpx.AsyncClient
) -> None:
    first, second = unique("jc"), unique("jc")
    agreement = unique("land")
    await record(store, [
        registered(first), registered(second), land_agreement(agreement),
        members(agreement, first, second), members(agreement, second),
    ])  # fmt: skip

    detail = (await client.get(f"/agreements/{agreement}")).json()

    assert ([m["jobcenter_id"] for m in detail["members"]], detail["member_count"]) == (
        [second], 1,
    )  # fmt: skip


async def test_a_land_agreement_is_its_lands_readers_and_a_federal_one_only_federal(
    store: EventStore, client: httpx.AsyncClient
) -> None:
    member = unique("jc")
    land, federal = unique("land"), unique("bund")
    await record(store, [registered(member), land_agreement(land), members(land, member),
                         federal_agreement(federal), members(federal, member)])  # fmt: skip

    def seen(agreement: str, headers: dict[str, str]) -> Any:
        return client.get(f"/agreements/{agreement}", headers=headers)

    own_land, other_land = as_reader(land=LAND), as_reader(land="DE-HE")
    own_jobcenter = as_reader(jobcenter_id=member)
    assert (await seen(land, own_land)).status_code == 200
    assert (await seen(land, other_land)).status_code == 404
    assert (await seen(land, own_jobcenter)).status_code == 404
    assert (await seen(federal, own_land)).status_code == 404
    answer = await seen(federal, as_reader())
    assert (answer.status_code, answer.json()["level"], answer.json()["land"]) == (
        200, "federal", None,
    )  # fmt: skip
    listed = await client.get("/agreements", params={"year": 2022, "limit": 1000},
                              headers=own_land)  # fmt: skip
    assert {land} <= {a["agreement_id"] for a in listed.json()["items"]}
    assert federal not in {a["agreement_id"] for a in listed.json()["items"]}
    by_jobcenter = await client.get("/agreements", params={"limit": 1000}, headers=own_jobcenter)
    assert by_jobcenter.json()["items"] == []
