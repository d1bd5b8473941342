"""A realistic upstream workload with hostile messages, and the accounting that proves nothing
was lost: every published message ends recorded, duplicate or rejected — exactly one of them.

Messages come in phases (set-up, first reports, corrections). A phase is published only once the
one before is settled, so the final views do not depend on how a crash interleaved batches.
"""

import json
import random
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from tests.factories import HOSTILE_KINDS, envelope, hostile_body, unique

Key = tuple[str, str]
JOBCENTERS = 60
INDICATORS = ("integrations", "ltb_stock", "elb_stock", "u25_training_integrations")
BREAKDOWNS = ("total", "women", "men")


@dataclass
class Phase:
    """Bodies to publish, with what each must become."""

    bodies: list[bytes] = field(default_factory=list)
    recorded: set[Key] = field(default_factory=set)
    duplicates: int = 0
    rejected: int = 0

    def add(self, body: bytes, fate: str, key: Key | None = None) -> None:
        """One message and its expected fate."""
        self.bodies.append(body)
        if fate == "recorded" and key is not None:
            self.recorded.add(key)
        elif fate == "duplicate":
            self.duplicates += 1
        else:
            self.rejected += 1


@dataclass
class Workload:
    """All phases, and the source that marks this workload's messages."""

    source: str
    phases: list[Phase]

    @property
    def published(self) -> int:
        """How many messages the phases hold."""
        return sum(len(phase.bodies) for phase in self.phases)


def encoded(message: dict[str, Any]) -> bytes:
    """An envelope as the bytes an upstream system publishes."""
    return json.dumps(message).encode()


def hostile(rng: random.Random, source: str, jobcenter: str) -> bytes:
    """One of the kinds of bad input an upstream system may send."""
    good = figure(source, jobcenter, "2022-01", "total", "integrations", 5)
    kind = rng.randrange(6)
    if kind == 0:
        return b'{"message_id": "broken' + bytes([rng.randrange(256)])
    if kind == 1:
        return encoded(good | {"type": "SomethingElseHappened"})
    if kind == 2:
        return encoded(good | {"data": good["data"] | {"jobcenter_id": "unknown-jc"}})
    if kind == 3:
        return encoded(good | {"data": good["data"] | {"value": -rng.randint(1, 99)}})
    if kind == 4:
        return encoded(good | {"padding": "x" * 100_000})
    return b"\xff\xfe not even utf-8"


def figure(source: str, jobcenter: str, period: str, breakdown: str, indicator: str,
           value: int, corrected: bool = False) -> dict[str, Any]:  # fmt: skip
    """A monthly figure (or its correction) envelope."""
    data = {"jobcenter_id": jobcenter, "indicator": indicator, "period": period,
            "breakdown": breakdown, "value": value, "status": "final"}  # fmt: skip
    if corrected:
        return envelope("MonthlyFigureCorrected", data | {"reason": "BA revision"}, source=source)
    return envelope("MonthlyFigureReported", data | {"status": "preliminary"}, source=source)


def fill(phase: Phase, rng: random.Random, messages: list[dict[str, Any]], source: str,
         jobcenters: list[str], hostile_share: float) -> None:  # fmt: skip
    """Add `messages` (recorded), with duplicates and hostile ones mixed in."""
    for message in messages:
        key = (message["source"], message["message_id"])
        phase.add(encoded(message), "recorded", key)
        if rng.random() < hostile_share / 2:
            phase.add(encoded(message), "duplicate")
        if rng.random() < hostile_share / 2:
            phase.add(hostile(rng, source, rng.choice(jobcenters)), "rejected")


def make_workload(total: int = 20_000, hostile_share: float = 0.05, seed: int = 7) -> Workload:
    """About `total` messages: set-up, reports, then corrections of some of them."""
    rng, source = random.Random(seed), unique("e2e")
    jobcenters = [unique("jc") for _ in range(JOBCENTERS)]
    setup = Phase()
    for jobcenter in jobcenters:
        message = envelope("JobcenterRegistered", {"jobcenter_id": jobcenter, "name": jobcenter,
                           "land": "DE-HE", "kind": "gE"}, source=source)  # fmt: skip
        setup.add(encoded(message), "recorded", (source, message["message_id"]))
    keys = [(jc, f"{year}-{month:02d}", b, i) for jc in jobcenters for year in (2021, 2022)
            for month in range(1, 13) for b in BREAKDOWNS for i in INDICATORS]  # fmt: skip
    rng.shuffle(keys)
    reports_wanted = int(total * 0.8 / (1 + hostile_share))
    chosen = keys[:reports_wanted]
    reports, corrections = Phase(), Phase()
    fill(reports, rng, [figure(source, *k, rng.randint(0, 900)) for k in chosen], source,
         jobcenters, hostile_share)  # fmt: skip
    corrected = chosen[: int(total * 0.2 / (1 + hostile_share))]
    fill(corrections, rng, [figure(source, *k, rng.randint(0, 900), corrected=True)
                            for k in corrected], source, jobcenters, hostile_share)  # fmt: skip
    return Workload(source, [setup, reports, corrections])


@dataclass
class Chunk:
    """Messages published together: mostly hostile, with one valid canary among them."""

    bodies: list[bytes]
    canary: Key


def hostile_mix(workload: Workload, chunks: int, size: int = 50, seed: int = 11) -> list[Chunk]:
    """`chunks` chunks of `size` messages, each one valid canary (a figure of 2023, a year the
    workload leaves alone) among hostile messages of every kind; added to `workload` as a
    phase of its own."""
    rng, phase = random.Random(seed), Phase()
    setup = [json.loads(body) for body in workload.phases[0].bodies]
    assert len(setup) * 12 >= chunks, "more canaries than distinct figures of 2023"
    result = []
    for number in range(chunks):
        jobcenter = setup[number % len(setup)]["data"]["jobcenter_id"]
        month = number // len(setup) + 1
        canary = figure(workload.source, jobcenter, f"2023-{month:02d}", "total",
                        "integrations", rng.randint(0, 900))  # fmt: skip
        bodies = [hostile_body(canary, rng.choice(HOSTILE_KINDS)) for _ in range(size - 1)]
        for body in bodies:
            phase.add(body, "rejected")
        key = (canary["source"], canary["message_id"])
        phase.add(encoded(canary), "recorded", key)
        bodies.insert(rng.randrange(size), encoded(canary))
        result.append(Chunk(bodies, key))
    workload.phases.append(phase)
    return result


RECORDED_KEYS = "SELECT source, message_id FROM store.events WHERE source = $1"
REJECTIONS = "SELECT count(*) FROM service.rejections"  # each test has a database of its own


async def settled(connection: asyncpg.Connection, workload: Workload, phases: int) -> bool:
    """Whether the first `phases` phases are fully recorded and rejected."""
    expected = workload.phases[:phases]
    recorded = await connection.fetch(RECORDED_KEYS, workload.source)
    rejected = await connection.fetchval(REJECTIONS)
    return len(recorded) >= sum(len(p.recorded) for p in expected) and rejected >= sum(
        p.rejected for p in expected
    )


async def account(connection: asyncpg.Connection, workload: Workload) -> None:
    """Assert that every published message ended in exactly one of its three fates."""
    recorded = {tuple(row) for row in await connection.fetch(RECORDED_KEYS, workload.source)}
    rejected = await connection.fetchval(REJECTIONS)
    expected = set().union(*(phase.recorded for phase in workload.phases))
    duplicates = sum(phase.duplicates for phase in workload.phases)
    assert recorded == expected, "recorded messages differ from the valid ones published"
    assert rejected == sum(phase.rejected for phase in workload.phases)
    assert len(recorded) + duplicates + rejected == workload.published


CONTENT_CHECKSUM = """
SELECT md5(string_agg(concat_ws('|', stream_id, type, source, message_id, data::text), ','
                      ORDER BY source, message_id))
FROM store.events WHERE source = $1
"""
FIGURES_CHECKSUM = """
SELECT md5(string_agg(concat_ws('|', jobcenter_id, indicator, breakdown, period, value,
                                 status, revision_count), ','
                      ORDER BY jobcenter_id, indicator, breakdown, period))
FROM views.figures
"""


async def checksums(connection: asyncpg.Connection, workload: Workload) -> tuple[str, str]:
    """Order-independent checksums of the store's content and of the figures view."""
    return (
        await connection.fetchval(CONTENT_CHECKSUM, workload.source),
        await connection.fetchval(FIGURES_CHECKSUM),
    )
