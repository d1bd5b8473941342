"""Property: for random sequences of figures (of the year and the year before), corrections,
amendments, agreed monthly plans, budget deviations and a close, the projector's attainment
rows equal, after every single event, the as-of answer replayed from the store at that position
— and, at the end, a from-scratch computation."""

import asyncio
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.store import EventStore, create_pool
from projections.attainment.answers import TargetResult
from projections.attainment.calculation import attainment
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor
from services.replay import agreement_events, attainment_at
from tests.factories import unique
from tests.integration.attainment_history import operation, setup, to_envelope
from tests.integration.helpers import ignore

ROWS = "SELECT * FROM views.attainment WHERE agreement_id = $1 ORDER BY ordinal"


async def scenario(database_url: str, ops: list[tuple[str, Any]]) -> None:
    """Record the operations, project one event at a time, compare after each."""
    pool = await create_pool(database_url)  # the tests' login: appends and projects
    try:
        store = EventStore(pool)
        jobcenter, agreement = unique("jc"), unique("agr")
        envelopes = setup(jobcenter, agreement) + [
            to_envelope(o, jobcenter, agreement) for o in ops
        ]
        ingestor = Ingestor(store, ignore, today=lambda: date(2026, 11, 21))
        runner = ProjectionRunner(pool, store, PROJECTIONS)
        await runner.catch_up()  # the events of earlier examples
        start = await store.last_position()
        await ingestor.ingest([Delivery(json.dumps(e).encode(), unique("d")) for e in envelopes])
        async for page in store.read_all(after=start):
            for event in page:
                await runner.project([event])
                live = [TargetResult(**{f: row[f] for f in TargetResult.model_fields})
                        for row in await pool.fetch(ROWS, agreement)]  # fmt: skip
                replayed = await attainment_at(store, agreement, event.position)
                assert live == (replayed.targets if replayed else []), event.position
        events = await agreement_events(store, agreement, await store.last_position())
        scratch = attainment(agreement, events or [])
        assert scratch is not None
        assert live == scratch.targets
    finally:
        await pool.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.slow
@given(ops=st.lists(operation, min_size=1, max_size=30))
def test_projector_equals_the_as_of_replay_after_every_event(
    tests_url: str, ops: list[tuple[str, Any]]
) -> None:
    asyncio.run(scenario(tests_url, ops))
