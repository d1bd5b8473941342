"""Property: the query API's as-of answer, folded on from the agreement's nearest snapshot
(`attainment_from_snapshot`), equals the fold of the whole log (`attainment_at`) at every
position from before the conclusion to the head, for random sequences of figures,
corrections, amendments, plans, deviations and a close (snapshots every few events here); and
a snapshot of tables of another version is not used."""

import asyncio
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.store import EventStore, create_pool
from projections.attainment import batch
from projections.attainment.projection import ATTAINMENT
from projections.attainment.snapshots import nearest_snapshot
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor
from services.replay import attainment_at, attainment_from_snapshot
from tests.factories import unique
from tests.integration.attainment_history import operation, setup, to_envelope
from tests.integration.helpers import ignore

SNAPSHOTS = "SELECT count(*) FROM views.attainment_snapshots WHERE agreement_id = $1"


async def scenario(database_url: str, ops: list[tuple[str, Any]]) -> None:
    """Record the operations, project them, compare both answers at every position."""
    pool = await create_pool(database_url)  # the tests' login: appends and projects
    try:
        store = EventStore(pool)
        jobcenter, agreement = unique("jc"), unique("agr")
        envelopes = setup(jobcenter, agreement) + [
            to_envelope(o, jobcenter, agreement) for o in ops
        ]
        ingestor = Ingestor(store, ignore, today=lambda: date(2026, 11, 21))
        runner = ProjectionRunner(pool, store, PROJECTIONS)
        await runner.catch_up()
        start = await store.last_position()
        await ingestor.ingest([Delivery(json.dumps(e).encode(), unique("d")) for e in envelopes])
        await runner.catch_up()
        head = await store.last_position()
        assert await pool.fetchval(SNAPSHOTS, agreement) >= 3  # 9 events of the setup at least
        for position in range(start, head + 1):
            folded = await attainment_at(store, agreement, position)
            snapped = await attainment_from_snapshot(store, agreement, position)
            assert (snapped and snapped.targets) == (folded and folded.targets), position
            assert (snapped and snapped.jobcenter_id) == (folded and folded.jobcenter_id)
        kept = await nearest_snapshot(pool, agreement, head, ATTAINMENT.version + 1)
        assert kept is None  # tables of another version: not used
    finally:
        await pool.close()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operation, min_size=1, max_size=30))
def test_the_as_of_answer_from_a_snapshot_equals_the_whole_fold(
    tests_url: str, ops: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "SNAPSHOT_EVERY", 3)
    asyncio.run(scenario(tests_url, ops))
