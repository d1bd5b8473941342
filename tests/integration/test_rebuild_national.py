"""Every projection rebuilt (through its loader, a few jobcenters at a time, in this process or
in worker processes) over a small national workload equals, row by row, what the live
projection made of the same events."""

import pytest

from events.store import EventStore
from projections.engine.runner import ProjectionRunner
from projections.engine.workers import Workers
from projections.registry import PROJECTIONS
from tests.benchmarks.national import store_events

BATCH = 700


@pytest.fixture(params=[1, 2], ids=["in-process", "two-workers"])
def runner(
    store: EventStore, tests_url: str, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> ProjectionRunner:  # fmt: skip
    """A runner of every projection the services run, its rebuilds folded in this process or
    by two worker processes (a share per jobcenter: this log is far smaller than a share)."""
    monkeypatch.setattr("projections.engine.rebuild.SHARE_EVENTS", 1)
    return ProjectionRunner(store.pool, store, PROJECTIONS, Workers(tests_url, None, request.param))


@pytest.mark.slow
async def test_every_rebuild_equals_the_live_tables(store: EventStore, runner: ProjectionRunner):
    events = list(store_events(jobcenters=3, years=3, seed=5))
    for start in range(0, len(events), BATCH):
        await store.append(events[start : start + BATCH])
        await runner.catch_up()

    recomputed = {p.name: await runner.verify(p.name) for p in PROJECTIONS}
    rebuilt = {p.name: await runner.rebuild(p.name) for p in PROJECTIONS}
    again = {p.name: await runner.verify(p.name) for p in PROJECTIONS}

    assert recomputed == {p.name: None for p in PROJECTIONS}
    assert rebuilt == {p.name: len(events) for p in PROJECTIONS}
    assert again == recomputed
