"""The national demo: 404 jobcenters in 16 Länder, deterministic, valid where each envelope
stands, figures published after the waiting period with preliminary months and corrections."""

import json
import re
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from events.catalogue import parse_envelope
from events.rules import KnownEntities
from services.cli.national import (
    BERLIN_DISTRICT,
    HORIZON,
    LAENDER,
    SOURCES,
    TARGETS,
    national_envelopes,
)

Envelope = dict[str, Any]


@pytest.fixture(scope="module")
def national() -> list[Envelope]:
    return national_envelopes()


@pytest.fixture(scope="module")
def small() -> list[Envelope]:
    return national_envelopes(jobcenters=20, years=2, seed=3)


def registered(envelopes: list[Envelope]) -> list[dict[str, Any]]:
    return [e["data"] for e in envelopes if e["type"] == "JobcenterRegistered"]


def test_404_jobcenters_in_16_laender_300_ge_104_zkt(national: list[Envelope]) -> None:
    jobcenters = registered(national)
    assert len(jobcenters) == 404
    assert len({jc["jobcenter_id"] for jc in jobcenters}) == 404
    assert Counter(jc["kind"] for jc in jobcenters) == {"gE": 300, "zkT": 104}
    per_land = Counter(jc["land"] for jc in jobcenters)
    assert per_land == {land: total for land, _, total, _, _ in LAENDER}
    zkt = Counter(jc["land"] for jc in jobcenters if jc["kind"] == "zkT")
    assert zkt == {land: n for land, _, _, n, _ in LAENDER if n}
    assert {"05162", "06435", "06437"}.isdisjoint(jc["jobcenter_id"] for jc in jobcenters)


def test_every_jobcenter_has_a_land_and_an_agreement_per_year(national: list[Envelope]) -> None:
    jobcenters = {jc["jobcenter_id"]: jc for jc in registered(national)}
    concluded = [e["data"] for e in national if e["type"] == "AgreementConcluded"]
    own = [a for a in concluded if a.get("level", "jobcenter") == "jobcenter"]
    assert Counter(a["year"] for a in own) == {2024: 404, 2025: 404, 2026: 404}
    assert {a["jobcenter_id"] for a in own} == set(jobcenters)
    targets = Counter(e["data"]["agreement_id"] for e in national if e["type"] == "TargetSet")
    assert len(targets) == 3 * (404 + 17)
    assert set(targets.values()) == {len(TARGETS)}
    closed = Counter(e["data"]["agreement_id"][-4:] for e in national
                     if e["type"] == "AgreementClosed")  # fmt: skip
    assert closed == {"2024": 421, "2025": 421}  # 2026 is in progress


def test_17_roll_up_agreements_a_year_with_their_members(national: list[Envelope]) -> None:
    jobcenters = {jc["jobcenter_id"]: jc for jc in registered(national)}
    concluded = {e["data"]["agreement_id"]: e["data"] for e in national
                 if e["type"] == "AgreementConcluded" and "level" in e["data"]}  # fmt: skip
    members = {e["data"]["agreement_id"]: e["data"]["jobcenter_ids"] for e in national
               if e["type"] == "AgreementMembersSet"}  # fmt: skip
    assert set(members) == set(concluded)
    for year in (2024, 2025, 2026):
        of_year = {k: a for k, a in concluded.items() if a["year"] == year}
        assert Counter(a["level"] for a in of_year.values()) == {"federal": 1, "land": 16}
        federal = members[f"bund-{year}"]
        assert sorted(federal) == sorted(k for k, jc in jobcenters.items() if jc["kind"] == "gE")
        assert len({a.get("land") for a in of_year.values()}) == 17  # 16 Länder and None
    for agreement_id, ids in members.items():
        land = concluded[agreement_id].get("land")
        if land is None:
            continue
        in_land = {k for k, jc in jobcenters.items() if jc["land"] == land}
        zkt = {k for k in in_land if jobcenters[k]["kind"] == "zkT"}
        assert set(ids) == (zkt or in_land)  # a Land without zkT: its gE
    assert set(members["land-de-be-2026"]) == {k for k, jc in jobcenters.items()
                                                if jc["land"] == "DE-BE"}  # fmt: skip


def test_three_years_of_figures_after_the_waiting_period(national: list[Envelope]) -> None:
    figures = [e for e in national if e["type"].startswith("MonthlyFigure")]
    periods = {e["data"]["period"] for e in figures}
    assert min(periods) == "2024-01" and max(periods) == "2026-07"
    for e in figures[:: len(figures) // 2000]:
        year, month = map(int, e["data"]["period"].split("-"))
        published = datetime.fromisoformat(e["occurred_at"])
        assert (published.year * 12 + published.month) - (year * 12 + month) >= 3
    assert max(e["occurred_at"] for e in national) <= HORIZON
    statuses = Counter(e["data"]["status"] for e in figures)
    assert 0.01 < statuses["preliminary"] / len(figures) < 0.05
    corrected = [e for e in figures if e["type"] == "MonthlyFigureCorrected"]
    assert 0.02 < len(corrected) / len(figures) < 0.06
    assert {e["data"]["reason"] for e in corrected} >= {
        "Endgültiger Wert nach Ablauf der dreimonatigen Wartezeit"
    }
    with_parts = {e["data"]["indicator"] for e in figures if "numerator" in e["data"]}
    assert with_parts == {"k2", "k3", "k2e3"}


def test_district_keys_berlin_shares_one(national: list[Envelope]) -> None:
    jobcenters = registered(national)
    prefixes = {land: prefix for land, prefix, _, _, _ in LAENDER}
    for jc in jobcenters:
        assert re.fullmatch(r"\d{5}", jc["district_key"])
        assert jc["district_key"][:2] == prefixes[jc["land"]]
    berlin = [jc for jc in jobcenters if jc["land"] == "DE-BE"]
    assert len(berlin) == 12
    assert {jc["district_key"] for jc in berlin} == {BERLIN_DISTRICT}
    others = [jc["district_key"] for jc in jobcenters if jc["land"] != "DE-BE"]
    assert len(set(others)) == len(others) == 392


def test_deterministic_with_stable_ids(small: list[Envelope]) -> None:
    again = national_envelopes(jobcenters=20, years=2, seed=3)
    assert again == small
    assert national_envelopes(jobcenters=20, years=2, seed=4) != small
    keys = [(e["source"], e["message_id"]) for e in small]
    assert len(set(keys)) == len(keys)
    assert all(e["message_id"].startswith("national-") for e in small)
    assert {e["source"] for e in small} == set(SOURCES)


def test_small_variant_keeps_the_split(small: list[Envelope]) -> None:
    jobcenters = registered(small)
    assert len(jobcenters) == 20
    assert Counter(jc["kind"] for jc in jobcenters)["zkT"] >= 3


def test_runs_of_one_source_each_valid_where_it_stands(small: list[Envelope]) -> None:
    runs = [small[0]["source"]]
    for e in small[1:]:
        if e["source"] != runs[-1]:
            runs.append(e["source"])
    assert len(runs) <= 4
    known = KnownEntities()
    for message in small:
        _, event = parse_envelope(json.loads(json.dumps(message)))
        known.check(event, datetime.fromisoformat(message["occurred_at"]).date())
        known.apply(event)


def test_every_jobcenter_has_a_comparison_type_each_year(national: list[Envelope]) -> None:
    types = [e["data"] for e in national if e["type"] == "ComparisonTypeAssigned"]
    ids = {jc["jobcenter_id"] for jc in registered(national)}
    for year in (2024, 2025, 2026):
        assert {t["jobcenter_id"] for t in types if t["year"] == year} == ids
    assert len(types) == 3 * 404
    by_code = Counter(t["type_code"] for t in types if t["year"] == 2026)
    assert len(by_code) >= 10 and max(by_code.values()) < 150
    assert len({(t["type_code"], t["type_name"]) for t in types}) == len(by_code)
