"""The whole pipeline on a real broker (Redis and NATS JetStream) and a real PostgreSQL:
published envelopes end up recorded, relayed and projected; nothing is lost."""

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.log import RecordedEvent
from events.store import EventStore
from events.verify import verify_chain
from infra.broker import REDELIVER_AFTER_S, Transport
from projections.figures.calculation import fold_figures
from services.bootstrap import Running, Servers, services
from services.pipeline.channels import (
    INGEST_CHANNEL,
    INGEST_GROUP,
    publish_envelopes,
    publish_events,
)
from services.pipeline.run import Part
from tests.factories import agreement_setup, figure_envelope, unique
from tests.integration.helpers import (
    api_app,
    api_client,
    caught_up,
    eventually,
    settings_for,
    slowest_checkpoint,
)
from tests.integration.workload import Chunk, account, hostile_mix, make_workload, settled

CANARY_BOUND_S = 15.0
"""No canary may wait longer: far above a healthy run, far below the 30 s redelivery that a
batch failing as a whole (instead of being split) would cost its valid neighbours."""
CHUNK_EVERY_S = 0.1
CANARIES_RECORDED = "SELECT message_id FROM store.events WHERE message_id = ANY($1::text[])"
CHECKPOINT = (
    "SELECT coalesce(max(position), 0) FROM service.checkpoints WHERE projection = 'figures'"
)
FIGURES_ROWS = """
SELECT jobcenter_id, indicator, breakdown, period, value::float8, revision_count
FROM views.figures ORDER BY 1, 2, 3, 4
"""


async def test_published_envelopes_are_recorded_relayed_and_projected(
    pipeline: Running,
) -> None:
    jobcenter = unique("jc")
    report = figure_envelope(jobcenter, "2022-03", value=61)
    correction = figure_envelope(jobcenter, "2022-03", value=64) | {
        "type": "MonthlyFigureCorrected"
    }
    correction["data"]["reason"] = "late registrations"
    setup = [json.dumps(e).encode() for e in agreement_setup(jobcenter, unique("agr"))]
    await publish_envelopes(pipeline.transport, [*setup, json.dumps(report).encode()])
    await eventually(lambda: caught_up(pipeline.store), "the first batch to be projected")
    await publish_envelopes(pipeline.transport, [json.dumps(correction).encode()])

    async def corrected() -> bool:
        return await pipeline.store.last_position() == 6 and await caught_up(pipeline.store)

    await eventually(corrected, "the correction to be projected")
    app = api_app(pipeline.store, pipeline.ingestor)
    async with api_client(app) as client:
        health = (await client.get("/health")).json()
    rows = await pipeline.store.pool.fetch(FIGURES_ROWS)

    assert health == {
        "status": "ok", "position": 6,
        "projections": {"agreements": 6, "attainment": 6, "figures": 6, "frameworks": 6,
                        "key_figures": 6},
    }  # fmt: skip
    assert [tuple(row) for row in rows] == [(jobcenter, "integrations", "total", "2022-03", 64, 1)]


@pytest.fixture
async def patient_pipeline(urls: Servers) -> AsyncIterator[Running]:
    """The pipeline with the production redelivery time (30 s), so that a batch held back
    until its redelivery shows as a delay no canary could hide."""
    settings = settings_for(urls).model_copy(update={"redeliver_after_s": REDELIVER_AFTER_S})
    async with services(settings, urls, set(Part), api=True) as running:
        yield running


@pytest.mark.slow
async def test_twenty_thousand_messages_with_hostile_ones_lose_nothing(
    patient_pipeline: Running, owner_connection: asyncpg.Connection
) -> None:
    pipeline = patient_pipeline
    workload = make_workload(total=20_000)
    mix = hostile_mix(workload, chunks=40)  # the last phase: 1,960 hostile, 40 canaries

    for number, phase in enumerate(workload.phases[:-1], start=1):
        await publish_envelopes(pipeline.transport, phase.bodies)
        await eventually(lambda n=number: settled(owner_connection, workload, n),  # type: ignore[misc]
                         f"phase {number} to settle")  # fmt: skip
    latencies = await canary_latencies(pipeline, owner_connection, mix)
    assert max(latencies) <= CANARY_BOUND_S, sorted(latencies)
    await eventually(lambda: settled(owner_connection, workload, len(workload.phases)),
                     "the hostile mix to settle")  # fmt: skip
    await eventually(lambda: caught_up(pipeline.store), "the projection to catch up")
    await eventually(lambda: nothing_pending(pipeline.transport), "every message acknowledged")

    await account(owner_connection, workload)
    assert (await verify_chain(pipeline.store)).intact
    events = [e async for page in pipeline.store.read_all() for e in page]
    assert await figure_rows(pipeline.store) == expected_rows(events)

    # Replaying zs.events from the start into the running projector changes nothing: after
    # the replay, one new event is recorded; once it is projected the replay was consumed.
    for start in range(0, len(events), 1000):
        await publish_events(pipeline.transport, events[start : start + 1000])
    sentinel = figure_envelope(events[0].data["jobcenter_id"], "2005-01")
    sentinel["source"] = workload.source
    await publish_envelopes(pipeline.transport, [json.dumps(sentinel).encode()])
    head = len(events) + 1
    await eventually(lambda: projected_up_to(pipeline.store, head), "the sentinel")
    events = [e async for page in pipeline.store.read_all() for e in page]
    assert await figure_rows(pipeline.store) == expected_rows(events)


async def canary_latencies(
    pipeline: Running, connection: asyncpg.Connection, mix: list[Chunk]
) -> list[float]:
    """Publish the chunks one every `CHUNK_EVERY_S`; each canary's seconds from its publish
    until it is recorded (polled)."""
    published: dict[str, float] = {}
    seen: dict[str, float] = {}

    async def watch() -> None:
        while len(seen) < len(mix):
            waiting = [key for key in published if key not in seen]
            rows = await connection.fetch(CANARIES_RECORDED, waiting) if waiting else []
            for row in rows:
                seen.setdefault(row["message_id"], time.perf_counter())
            await asyncio.sleep(0.05)

    watching = asyncio.create_task(watch())
    for chunk in mix:
        published[chunk.canary[1]] = time.perf_counter()
        await publish_envelopes(pipeline.transport, chunk.bodies)
        await asyncio.sleep(CHUNK_EVERY_S)
    with contextlib.suppress(TimeoutError):  # a canary never seen counts as waiting for ever
        await asyncio.wait_for(watching, CANARY_BOUND_S * 4)
    return [seen.get(key, math.inf) - at for key, at in published.items()]


async def nothing_pending(transport: Transport) -> bool:
    """Whether the ingest group holds no unacknowledged message."""
    return await transport.pending(INGEST_CHANNEL, INGEST_GROUP) == 0


async def projected_up_to(store: EventStore, position: int) -> bool:
    """Whether every projection has reached `position`."""
    return await slowest_checkpoint(store) >= position


def expected_rows(events: list[RecordedEvent]) -> list[tuple[object, ...]]:
    """The figures view computed from scratch, in the order of `FIGURES_ROWS`."""
    return sorted(
        (r.jobcenter_id, r.indicator, r.breakdown, r.period, float(r.value), r.revision_count)
        for r in fold_figures(events)
    )


async def figure_rows(store: EventStore) -> list[tuple[object, ...]]:
    """The live figures view."""
    return [tuple(row) for row in await store.pool.fetch(FIGURES_ROWS)]


@pytest.mark.slow
async def test_rebuild_during_ingest_ends_identical_to_the_live_view(
    pipeline: Running, owner_connection: asyncpg.Connection
) -> None:
    workload = make_workload(total=6_000, seed=3)
    await publish_envelopes(pipeline.transport, workload.phases[0].bodies)
    await eventually(lambda: settled(owner_connection, workload, 1), "the set-up")

    publishing = asyncio.create_task(
        publish_envelopes(pipeline.transport, workload.phases[1].bodies)
    )
    await eventually(lambda: projected_up_to(pipeline.store, 500), "ingest to be under way")
    head_at_start = await pipeline.store.last_position()
    rebuilt_at = await pipeline.runner.rebuild("figures")
    live_at_swap = await pipeline.store.pool.fetchval(CHECKPOINT)
    await publishing
    await eventually(lambda: settled(owner_connection, workload, 2), "the reports")
    await eventually(lambda: caught_up(pipeline.store), "the projection")

    assert head_at_start < await pipeline.store.last_position()  # ingest went on meanwhile
    assert rebuilt_at <= live_at_swap
    events = [e async for page in pipeline.store.read_all() for e in page]
    assert await figure_rows(pipeline.store) == expected_rows(events)
