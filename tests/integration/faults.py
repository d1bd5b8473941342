"""What the fault tests share: checks that wait through a database outage, publishing a workload
phase by phase, and watching a settled pipeline for messages going round again."""

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from events.store import CONNECTION_LOST, EventStore
from infra.broker import Transport
from services.pipeline.channels import INGEST_CHANNEL, INGEST_GROUP
from services.pipeline.relay import relay_checkpoint
from tests.integration.helpers import eventually
from tests.integration.workload import Workload, settled

COUNT_REJECTIONS = "SELECT count(*) FROM service.rejections"
DATABASE_DOWN = (*CONNECTION_LOST, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
                 asyncpg.AdminShutdownError)  # fmt: skip


async def tolerant(check: Callable[[], Awaitable[bool]]) -> bool:
    """`check()`, False while the database is unreachable."""
    try:
        return await check()
    except DATABASE_DOWN:
        return False


async def quiet(pool: asyncpg.Pool, store: EventStore, transport: Transport) -> tuple[int, int]:
    """The store's head and the rejection count, which may not move until no delivery of the
    ingest group is left unacknowledged: a message that could still go round is delivered
    again, and settled, before that."""
    before = (await store.last_position(), await pool.fetchval(COUNT_REJECTIONS))
    await eventually(lambda: nothing_pending(transport), "every delivery acknowledged")
    after = (await store.last_position(), await pool.fetchval(COUNT_REJECTIONS))
    assert after == before, "messages went round again after everything was settled"
    return after


async def nothing_pending(transport: Transport) -> bool:
    """Whether the ingest group holds no unacknowledged delivery."""
    return await transport.pending(INGEST_CHANNEL, INGEST_GROUP) == 0


async def publish_phases(
    publish: Callable[[Sequence[bytes]], Awaitable[None]],
    pool: asyncpg.Pool,
    workload: Workload,
    phases: range | None = None,
) -> None:
    """Publish each phase (of `phases`, numbered from 1; default all) once the one before is
    settled (the order corrections need)."""
    for number in phases or range(1, len(workload.phases) + 1):
        await publish(workload.phases[number - 1].bodies)
        await eventually(lambda n=number: tolerant(lambda: settled(pool, workload, n)),  # type: ignore[misc]
                         f"phase {number} to settle")  # fmt: skip


async def rejections(pool: asyncpg.Pool, count: int) -> bool:
    """Whether `count` rejections (or more) are stored."""
    return bool(await pool.fetchval(COUNT_REJECTIONS) >= count)


async def relay_level(store: EventStore) -> bool:
    """Whether the relay has published up to the store's head."""
    return await relay_checkpoint(store) == await store.last_position()


async def at_least(store: EventStore, position: int) -> bool:
    """Whether the store holds `position` events or more."""
    return await store.last_position() >= position
