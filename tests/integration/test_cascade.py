"""The steering cascade against the real store, projector and API: Land and federal agreements,
their members, and who sees them."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import EventStore
from projections.attainment.projection import ATTAINMENT
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
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


INTEGRATIONS = {"A": (10, 12, 14, 16), "B": (20, 22, 24, 26), "C": (5, 6, 7)}
"""Integrations of the three members, January to April 2022 (C has not reported April)."""
CONTINUOUS = {"A": (30, 50), "B": (10, 40), "C": (45, 60)}
"""Continuous employment after integration, January 2022: (still employed, integrations)."""


def figure(jobcenter_id: str, period: str, indicator: str, value: float, **parts: int) -> Any:
    data = {"jobcenter_id": jobcenter_id, "indicator": indicator, "period": period,
            "breakdown": "total", "value": value, "status": "final", **parts}  # fmt: skip
    return envelope("MonthlyFigureReported", data)


def target(agreement_id: str, target_id: str, indicator: str, value: int, **rule: str) -> Any:
    data = {"agreement_id": agreement_id, "target_id": target_id, "indicator": indicator,
            "breakdown": "total", "comparator": "at_least", "value": value, **rule}  # fmt: skip
    return envelope("TargetSet", data)


@pytest.fixture
async def roll_up(store: EventStore) -> tuple[str, dict[str, str]]:
    """A Land agreement of 2022 over three members A, B, C, with an integrations target (at
    least 300, sum) and a continuous-employment target (at least 58 %, ratio), and the
    members' figures."""
    ids = {name: unique(f"jc{name}") for name in INTEGRATIONS}
    agreement = unique("land")
    figures = [
        figure(ids[name], f"2022-{month:02d}", "integrations", value)
        for name, values in INTEGRATIONS.items()
        for month, value in enumerate(values, start=1)
    ] + [
        figure(ids[name], "2022-01", "continuous_employment",
               round(employed / integrated * 100, 2), numerator=employed, denominator=integrated)
        for name, (employed, integrated) in CONTINUOUS.items()
    ]  # fmt: skip
    await record(store, [
        *(registered(jobcenter) for jobcenter in ids.values()), *figures,
        land_agreement(agreement), members(agreement, *ids.values()),
        target(agreement, "integrations", "integrations", 300, unit="count", aggregation="sum"),
        target(agreement, "continuous", "continuous_employment", 58, unit="percent",
               aggregation="ratio"),
    ])  # fmt: skip
    return agreement, ids


async def results(client: httpx.AsyncClient, agreement: str, **params: Any) -> dict[str, Any]:
    answer = await client.get(f"/agreements/{agreement}/attainment", params=params)
    assert answer.status_code == 200, answer.text
    return {t["target_id"]: t for t in answer.json()["targets"]}


async def test_a_land_agreements_attainment_equals_the_hand_computed_sum_of_its_members(
    client: httpx.AsyncClient, roll_up: tuple[str, dict[str, str]]
) -> None:
    agreement, _ = roll_up

    answer = (await client.get(f"/agreements/{agreement}/attainment")).json()
    found = {t["target_id"]: t for t in answer["targets"]}

    assert (answer["level"], answer["land"], answer["jobcenter_id"]) == ("land", LAND, None)
    # January to March: (10+20+5) + (12+22+6) + (14+24+7) = 35 + 40 + 45 = 120; April is left
    # out while C has not reported it. No plan, no complete 2021: linear, 300 x 3/12 = 75.
    integrations = found["integrations"]
    assert (integrations["actual"], integrations["months_reported"]) == (120, 3)
    assert (integrations["expected_to_date"], integrations["attainment_pct"]) == (75, 160)
    assert (integrations["forecast"], integrations["status"]) == (480, "on_track")
    # (30 + 10 + 45) / (50 + 40 + 60) = 85 / 150 = 56.67 %, not the mean of 60, 25 and 75 %
    # (53.33 %); 56.666... / 58 = 97.70 %.
    continuous = found["continuous"]
    assert (continuous["actual"], continuous["attainment_pct"]) == (56.67, 97.7)
    assert continuous["status"] == "at_risk"


async def test_a_change_of_members_and_a_members_correction_recalculate_the_land(
    store: EventStore, client: httpx.AsyncClient, roll_up: tuple[str, dict[str, str]]
) -> None:
    agreement, ids = roll_up
    before = await results(client, agreement)
    at_three = await store.last_position()

    ATTAINMENT.states.forget()  # the states and member figures come from their tables
    await record(store, [members(agreement, ids["A"], ids["B"])])
    two = await results(client, agreement)
    ATTAINMENT.states.forget()
    await record(store, [figure(ids["B"], "2022-02", "integrations", 32)])  # a correction
    corrected = await results(client, agreement)

    # A and B: 30 + 34 + 38 + 42 = 144 in four months, expected 300 x 4/12 = 100.
    assert (two["integrations"]["actual"], two["integrations"]["months_reported"]) == (144, 4)
    assert two["integrations"]["attainment_pct"] == 144
    assert two["continuous"]["actual"] == 44.44  # 40 / 90
    assert corrected["integrations"]["actual"] == 154  # B's February 22 -> 32
    assert corrected["continuous"] == two["continuous"]
    as_of = await results(client, agreement, as_of_position=at_three)
    assert as_of == before
    changes = await client.get(f"/agreements/{agreement}/changes",
                               params={"from_position": at_three})  # fmt: skip
    assert [(c["target_id"], c["event_type"], round(c["new"]["actual"], 2))
            for c in changes.json()["items"]] == [
        ("integrations", "AgreementMembersSet", 144), ("continuous", "AgreementMembersSet", 44.44),
        ("integrations", "MonthlyFigureReported", 154),
    ]  # fmt: skip


async def test_a_member_that_joins_later_brings_its_earlier_figures(
    store: EventStore, client: httpx.AsyncClient, roll_up: tuple[str, dict[str, str]]
) -> None:
    agreement, ids = roll_up
    await record(store, [members(agreement, ids["A"])])
    alone = await results(client, agreement)

    await record(store, [members(agreement, ids["A"], ids["C"])])
    joined = await results(client, agreement)

    assert alone["integrations"]["actual"] == 52  # 10 + 12 + 14 + 16
    assert joined["integrations"]["actual"] == 54  # (10+5) + (12+6) + (14+7); April left out
    assert joined["continuous"]["actual"] == 68.18  # (30 + 45) / (50 + 60)


async def test_the_rebuilt_and_replayed_roll_up_equal_the_live_one(
    store: EventStore, client: httpx.AsyncClient, roll_up: tuple[str, dict[str, str]]
) -> None:
    agreement, ids = roll_up
    await record(store, [
        members(agreement, ids["B"], ids["C"]), figure(ids["C"], "2022-04", "integrations", 8),
        figure(ids["A"], "2022-03", "integrations", 99), members(agreement, *ids.values()),
    ])  # fmt: skip
    live = await results(client, agreement)
    head = await store.last_position()

    runner = ProjectionRunner(store.pool, store, PROJECTIONS)

    assert await runner.verify("attainment") is None
    assert await results(client, agreement, as_of_position=head) == live
    # A's March is now 99: (10+20+5) + (12+22+6) + (99+24+7) + (16+26+8) = 255
    assert live["integrations"]["actual"] == 255


async def test_land_and_germany_portfolios_are_scoped_like_the_key_figures(
    store: EventStore, client: httpx.AsyncClient, roll_up: tuple[str, dict[str, str]]
) -> None:
    land_agreement_id, ids = roll_up
    federal = unique("bund")
    await record(store, [
        federal_agreement(federal), members(federal, *ids.values()),
        target(federal, "integrations", "integrations", 1000, unit="count", aggregation="sum"),
    ])  # fmt: skip

    async def portfolio(level: str | None, headers: dict[str, str]) -> set[str]:
        params = {"year": 2022, "limit": 1000} | ({"level": level} if level else {})
        answer = await client.get("/attainment", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return {row["agreement_id"] for row in answer.json()["items"]}

    own, other, jobcenter = as_reader(land=LAND), as_reader(land="DE-HE"), as_reader(
        jobcenter_id=ids["A"])  # fmt: skip
    assert land_agreement_id in await portfolio("land", own)
    assert federal not in await portfolio("land", as_reader())
    assert land_agreement_id not in await portfolio(None, as_reader())  # the jobcenters' level
    assert land_agreement_id not in await portfolio("land", other)
    assert await portfolio("land", jobcenter) == set()
    assert federal in await portfolio("germany", as_reader())
    assert await portfolio("germany", own) == set()
    [row] = [
        r
        for r in (
            await client.get("/attainment", params={"level": "germany", "limit": 1000})
        ).json()["items"]
        if r["agreement_id"] == federal
    ]
    assert (row["level"], row["land"], row["jobcenter_id"], row["actual"]) == (
        "federal", None, None, 120)  # fmt: skip
    for headers in (other, jobcenter):
        answer = await client.get(f"/agreements/{land_agreement_id}/attainment", headers=headers)
        assert answer.status_code == 404
    assert (await client.get(f"/agreements/{land_agreement_id}/attainment",
                             headers=own)).status_code == 200  # fmt: skip
    refused = await client.get("/attainment", params={"level": "germany", "land": LAND})
    assert refused.status_code == 422
