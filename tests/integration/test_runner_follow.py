"""The runner following the store on its own: woken by NOTIFY, each projection independent, the
store (never a delivered message) as input, and the lag in events and seconds."""

import asyncio
import random
from collections.abc import Sequence
from decimal import Decimal

import asyncpg
import pytest

from events.log import RecordedEvent
from events.store import NOTIFY_CHANNEL, EventStore
from projections.agreements.projection import AGREEMENTS
from projections.engine import runner as runner_module
from projections.engine.rebuild import Connection, Pages, Rebuild, Tables
from projections.engine.runner import (
    ProjectionRunner,
    ProjectionStatus,
)
from projections.figures.projection import FIGURES
from tests.factories import figure_event
from tests.integration.figures_log import append, mixed_figures
from tests.integration.helpers import eventually

NEVER_S = 3600.0
"""A fallback poll that never comes within a test."""
LISTENING = """
SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND query LIKE $1)
"""


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


async def listening(connection: asyncpg.Connection) -> bool:
    """Whether a session of this database listens on the store's channel."""
    return bool(await connection.fetchval(LISTENING, f"LISTEN %{NOTIFY_CHANNEL}%"))


async def checkpoint_of(connection: asyncpg.Connection, name: str, position: int) -> bool:
    """Whether projection `name` has reached `position`."""
    return (await checkpoints(connection)).get(name, 0) >= position


async def checkpoints(connection: asyncpg.Connection) -> dict[str, int]:
    """Every projection's checkpoint."""
    rows = await connection.fetch("SELECT projection, position FROM service.checkpoints")
    return {row["projection"]: row["position"] for row in rows}


async def test_run_follows_each_append_without_polling_even_when_another_projection_fails(
    store: EventStore, owner_connection: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "FALLBACK_POLL_S", NEVER_S)  # only a NOTIFY wakes it
    runner = ProjectionRunner(store.pool, store, [FIGURES, StuckAgreements()])
    following = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: listening(owner_connection), "the runner to listen")
        await append(store, [figure_event()])  # after its first catch-up, whenever that ran
        await eventually(lambda: checkpoint_of(owner_connection, "figures", 1))
        await append(store, mixed_figures(20, random.Random(1)))
        await eventually(lambda: checkpoint_of(owner_connection, "figures", 21), "a wake-up")
    finally:
        following.cancel()
    assert (await checkpoints(owner_connection)).get("agreements", 0) == 0
    [figures, agreements] = await runner.status()
    version = FIGURES.version
    assert figures == ProjectionStatus(
        "figures", checkpoint=21, head=21, lag_seconds=0.0, version=version, declared=version
    )
    assert (agreements.lag, agreements.checkpoint) == (21, 0)


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
    [_, second] = await append(store, [figure_event(), figure_event(period="2022-08")])
    await asyncio.sleep(0.5)  # the time the lag is to span, not a wait for anything
    [third] = await append(store, [figure_event(period="2022-09")])

    await runner.catch_up(until=2)
    [behind] = await runner.status()
    await runner.catch_up()
    [level] = await runner.status()

    assert (behind.lag, level.lag, level.lag_seconds) == (1, 0, 0.0)
    assert behind.lag_seconds == (third.recorded_at - second.recorded_at).total_seconds()
    assert behind.lag_seconds >= 0.5
