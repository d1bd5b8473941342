"""Helpers for tests of the whole pipeline on a real broker and database."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import nats
import redis.asyncio as redis

from infra.settings import Settings
from services.runtime import Servers

SETTLE_TIMEOUT_S = 120.0


async def wipe_broker(url: str) -> None:
    """Remove every stream (and so every consumer group) from the broker."""
    if urlsplit(url).scheme == "redis":
        client = redis.from_url(url)
        await client.flushdb()  # only the database of the URL
        await client.aclose()
        return
    connection = await nats.connect(url)
    jetstream = connection.jetstream()
    for stream in await jetstream.streams_info():
        await jetstream.delete_stream(stream.config.name or "")
    await connection.close()


def settings_for(urls: Servers) -> Settings:
    """Settings of services running on these servers, reclaiming quickly."""
    return Settings(database_url=urls.database_url, broker_url=urls.broker_url,
                    redeliver_after_s=1.0)  # fmt: skip


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    what: str = "the condition",
    within_s: float = SETTLE_TIMEOUT_S,
) -> None:
    """Wait until `condition` (plain or awaitable) holds; fail naming `what` after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        result = condition()
        if await result if isinstance(result, Awaitable) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
