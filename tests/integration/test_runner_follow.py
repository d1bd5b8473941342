"""The runner following the store on its own: woken by NOTIFY, each projection independent, the
store (never a delivered message) as input, and the lag in events and seconds."""

import asyncio
import random
import time
from collections.abc import Sequence
from decimal import Decimal

import asyncpg

from events.log import RecordedEvent
from events.store import EventStore
from projections.agreements.projection import AGREEMENTS
from projections.engine.rebuild import Connection, Pages, Rebuild, Tables
from projections.engine.runner import (
    FALLBACK_POLL_S,
    ProjectionRunner,
    ProjectionStatus,
)
from projections.figures.projection import FIGURES
from tests.factories import figure_event
from tests.integration.figures_log import append, mixed_figures


class StuckAgreements:
    """The agreements projection, except that every batch fails."""

    name = AGREEMENTS.name
    version = AGREEMENTS.version
    tables = AGREEMENTS.tables
    types = None

    ddl = AGREEMENTS.ddl

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        raise RuntimeError("stuck")

    def rebuild(self) -> Rebuild:
        return Pages(self)


async def checkpoints(connection: asyncpg.Connection) -> dict[str, int]:
    """Every projection's checkpoint."""
    rows = await connection.fetch("SELECT projection, position FROM service.checkpoints")
    return {row["projection"]: row["position"] for row in rows}


async def test_run_follows_each_append_without_polling_even_when_another_projection_fails(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    runner = ProjectionRunner(store.pool, store, [FIGURES, StuckAgreements()])
    following = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(0.3)  # listening
        started = time.monotonic()
        await append(store, mixed_figures(20, random.Random(1)))
        while (await checkpoints(owner_connection)).get("figures") != 20:
            assert time.monotonic() - started < FALLBACK_POLL_S / 2, "not woken by NOTIFY"
            await asyncio.sleep(0.02)
    finally:
        following.cancel()
    assert (await checkpoints(owner_connection)).get("agreements", 0) == 0
    [figures, agreements] = await runner.status()
    assert figures == ProjectionStatus("figures", checkpoint=20, head=20, lag_seconds=0.0)
    assert (agreements.lag, agreements.checkpoint) == (20, 0)


async def test_a_delivered_event_is_never_applied_the_store_is(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    runner = ProjectionRunner(store.pool, store, [FIGURES])
    [event] = await append(store, [figure_event(value=64)])
    forged = event.model_copy(update={"data": event.data | {"value": 999}})

    await runner.project([forged])

    assert await owner_connection.fetchval("SELECT value FROM views.figures") == Decimal(64)


async def test_lag_in_seconds_spans_the_checkpoint_event_to_the_head(
    store: EventStore,
) -> None:
    runner = ProjectionRunner(store.pool, store, [FIGURES])
    await append(store, [figure_event(), figure_event(period="2022-08")])
    await asyncio.sleep(0.5)
    await append(store, [figure_event(period="2022-09")])

    await runner.catch_up(until=2)
    [behind] = await runner.status()
    await runner.catch_up()
    [level] = await runner.status()

    assert (behind.lag, level.lag, level.lag_seconds) == (1, 0, 0.0)
    assert 0.5 <= behind.lag_seconds < 5
