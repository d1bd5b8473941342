"""The relay: publishes every recorded event to `zs.events` in position order, at least once.

Invariants: events are published in position order, page by page, and the checkpoint
(`service.relay_checkpoint`) advances only after a page was published, so a crash at any point
leads to re-publishing, never to skipping; one relay publishes at a time (a session advisory
lock), so two running relays never interleave; an append wakes the relay at once (LISTEN on
the store's NOTIFY channel), and a slow poll is only a safety net.
"""

import asyncio
import contextlib

import structlog

from events.store import CONNECTION_LOST, NOTIFY_CHANNEL, EventStore
from infra.broker import Transport
from projections.engine.runner import stopping, wait_for_wake
from services.pipeline.channels import EVENTS_CHANNEL, publish_events

RELAY_PAGE_SIZE = 2000
FALLBACK_POLL_S = 5.0
"""Catch up at least this often even when no notification arrives."""
RETRY_PAUSE_S = 1.0
"""Pause before starting over after the database or the broker failed."""
RELAY_LOCK_KEY = 0x5A53_524C  # "ZSRL": held by the one relay that publishes

SELECT_CHECKPOINT = "SELECT position FROM service.relay_checkpoint"
SAVE_CHECKPOINT = """
INSERT INTO service.relay_checkpoint (id, position) VALUES (true, $1)
ON CONFLICT (id) DO UPDATE SET position = excluded.position, updated_at = now()
"""
LOCK_RELAY = "SELECT pg_advisory_lock($1)"

log = structlog.get_logger()


async def relay_checkpoint(store: EventStore) -> int:
    """The last position the relay published (0 before the first): for health and metrics."""
    position = await store.pool.fetchval(SELECT_CHECKPOINT)
    return int(position or 0)


class Relay:
    """Tails the event store from its checkpoint and publishes each event to `zs.events`."""

    def __init__(
        self,
        store: EventStore,
        transport: Transport,
        *,
        channel: str = EVENTS_CHANNEL,
        page_size: int = RELAY_PAGE_SIZE,
        fallback_poll_s: float = FALLBACK_POLL_S,
    ) -> None:
        self.store, self.transport, self.channel = store, transport, channel
        self.page_size, self.fallback_poll_s = page_size, fallback_poll_s

    async def checkpoint(self) -> int:
        """The last position published (0 before the first)."""
        return await relay_checkpoint(self.store)

    async def catch_up(self) -> int:
        """Publish every event after the checkpoint, page by page; return the new checkpoint."""
        position = await self.checkpoint()
        async for page in self.store.read_all(position, page_size=self.page_size):
            await publish_events(self.transport, page, channel=self.channel)
            position = page[-1].position
            await self.store.pool.execute(SAVE_CHECKPOINT, position)
            log.info("events relayed", position=position, count=len(page))
        return position

    async def run(self) -> None:
        """Relay until cancelled, starting over after a failure of the database or broker."""
        while True:
            try:
                await self.follow()
            except Exception as error:
                if stopping():  # a failure while cancelled (of a lost connection) must not hide it
                    raise asyncio.CancelledError from error
                log.exception("relay interrupted; starting over", pause_s=RETRY_PAUSE_S)
                await asyncio.sleep(RETRY_PAUSE_S)

    async def follow(self) -> None:
        """Take the relay lock, then catch up on every notification (or poll) until failure."""
        async with self.store.pool.acquire() as connection:
            # The lock is held until the pool resets the connection on release.
            await connection.execute(LOCK_RELAY, RELAY_LOCK_KEY)
            appended = asyncio.Event()

            def on_append(_connection: object, _pid: int, _channel: str, _head: object) -> None:
                appended.set()

            await connection.add_listener(NOTIFY_CHANNEL, on_append)  # before the catch-up
            try:
                log.info("relay following the store", position=await self.checkpoint())
                while not connection.is_closed():
                    appended.clear()
                    await self.catch_up()
                    await wait_for_wake(appended, self.fallback_poll_s)
            finally:
                # The server may have closed the connection (a restart): asyncpg has then released
                # it, and any call on it raises, which would replace a cancellation in flight
                # (and `run` would go on instead of stopping).
                with contextlib.suppress(*CONNECTION_LOST):
                    if not connection.is_closed():
                        await connection.remove_listener(NOTIFY_CHANNEL, on_append)
