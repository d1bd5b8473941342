"""The national workload: deterministic, ordered, valid where it stands, a little hostile."""

import hashlib
import itertools
import json
from collections import Counter
from datetime import date, datetime

import pytest

from events.catalogue import parse_envelope
from events.envelope import InvalidEvent
from events.rules import KnownEntities
from tests.benchmarks.national import (
    LAST_YEAR,
    NATIONAL_JOBCENTERS,
    SERIES_PER_JOBCENTER,
    TARGETS,
    Message,
    encode,
    is_hostile,
    land_counts,
    national_workload,
)

JOBCENTERS, YEARS = 24, 2


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    return list(national_workload(JOBCENTERS, YEARS, seed=7))


def digest(items: list[Message]) -> str:
    return hashlib.sha256(b"\n".join(encode(m) for m in items)).hexdigest()


@pytest.mark.slow
def test_same_seed_same_messages_other_seed_others(messages: list[Message]) -> None:
    assert digest(list(national_workload(JOBCENTERS, YEARS, seed=7))) == digest(messages)
    assert digest(list(national_workload(JOBCENTERS, YEARS, seed=8))) != digest(messages)


def test_national_distribution() -> None:
    counts = land_counts(NATIONAL_JOBCENTERS)
    assert len(counts) == 16
    assert sum(n for _, _, n in counts) == 404
    assert sum(n for _, _, n in land_counts(40)) == 40
    first = list(itertools.islice(national_workload(NATIONAL_JOBCENTERS, 1, seed=1), 404))
    registered = [m for m in first if isinstance(m, dict) and m["type"] == "JobcenterRegistered"]
    assert len(registered) == 404
    assert len({m["data"]["jobcenter_id"] for m in registered}) == 404
    kinds = Counter(m["data"]["kind"] for m in registered)
    assert 80 <= kinds["zkT"] <= 130
    assert all(len(m["data"]["jobcenter_id"]) == 5 for m in registered)


def test_counts_per_year_within_bounds(messages: list[Message]) -> None:
    valid = [m for m in messages if isinstance(m, dict) and not is_hostile(m)]
    types = Counter(m["type"] for m in valid)
    agreements = JOBCENTERS * YEARS
    assert types["JobcenterRegistered"] == JOBCENTERS
    assert types["AgreementConcluded"] == agreements
    assert types["TargetSet"] == agreements * len(TARGETS)
    assert types["AgreementClosed"] == agreements
    assert types["BudgetDeviationRecorded"] == types["DialogHeld"] == 2 * agreements
    assert types["MonthlyFigureReported"] == agreements * 12 * SERIES_PER_JOBCENTER
    assert 0.01 < types["MonthlyFigureCorrected"] / types["MonthlyFigureReported"] < 0.03
    assert {t[5] for t in TARGETS} == {
        "sum", "mean", "quota", "ratio", "mean_rate", "last", "change_of_sum", "change_of_mean"
    }  # fmt: skip
    per_jobcenter_year = len(messages) / agreements
    assert 230 <= per_jobcenter_year <= 260  # 404 jobcenters: ~100k a year


def test_ordered_and_before_mid_2026(messages: list[Message]) -> None:
    times = [m["occurred_at"] for m in messages if isinstance(m, dict) and not is_hostile(m)]
    assert times == sorted(times)
    assert times[0].startswith(f"{LAST_YEAR - YEARS + 1}-01")
    assert times[-1] < "2026-07"


@pytest.mark.slow
def test_every_valid_message_parses_and_passes_the_domain_checks(
    messages: list[Message],
) -> None:
    known = KnownEntities()
    ids: set[tuple[str, str]] = set()
    for message in messages:
        if is_hostile(message):
            continue
        assert isinstance(message, dict)
        envelope, event = parse_envelope(json.loads(encode(message)))
        today = datetime.fromisoformat(message["occurred_at"]).date()
        known.check(event, today)
        known.apply(event)
        assert envelope.idempotency_key not in ids
        ids.add(envelope.idempotency_key)
    assert all(agreement.closed for agreement in known.agreements.values())


def test_hostile_share_and_every_hostile_message_is_rejected(messages: list[Message]) -> None:
    hostile = [m for m in messages if is_hostile(m)]
    assert 0.0003 < len(hostile) / len(messages) < 0.003
    known = KnownEntities()
    for message in messages:
        if isinstance(message, dict) and message["type"] == "JobcenterRegistered":
            known.apply(parse_envelope(message)[1])
    for message in hostile:
        body = encode(message)
        if len(body) > 64 * 1024:
            continue
        with pytest.raises((ValueError, InvalidEvent)):
            raw = json.loads(body)
            _, event = parse_envelope(raw)
            known.check(event, date(2026, 7, 1))
