"""Running a transport's subscribers, and watching that their consumer groups still exist.

A broker restarted empty loses its groups (Redis: "NOGROUP", after which FastStream stops the
subscribers; NATS: the durable consumer is gone). Every `WATCH_INTERVAL_S` the watchdog
recreates lost groups and restarts the subscribers that stopped.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import structlog

from infra.broker.transport import BROKER_LOGGER, Group, Subscriber, Transport

WATCH_INTERVAL_S = 5.0
"""How often `running` checks that every consumer group still exists."""

log = structlog.get_logger()


def subscribers(transport: Transport) -> list[Subscriber]:
    """Every subscriber of every binding."""
    return [sub for binding in transport.bindings for sub in binding.subscribers]


async def start_stopped(transport: Transport) -> None:
    """Start the subscribers that are not running."""
    for subscriber in subscribers(transport):
        if not subscriber.running:
            await subscriber.start()


async def repair(transport: Transport) -> list[Group]:
    """Recreate lost groups and (re)start stopped subscribers; return the lost groups."""
    lost = await transport.recover()
    await start_stopped(transport)
    return lost


async def watch(transport: Transport, interval_s: float, stopping: asyncio.Event) -> None:
    """Every `interval_s`, repair lost consumer groups, until `stopping` is set."""
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await stopping.wait()
                return
        try:
            for group in await repair(transport):
                log.warning(
                    "consumer group was lost; recreated", channel=group.channel, group=group.name
                )
        except Exception as error:  # the broker is unreachable: the subscribers retry by themselves
            log.warning("cannot check the consumer groups", error=str(error))


@contextlib.asynccontextmanager
async def running(
    transport: Transport, *, watch_interval_s: float = WATCH_INTERVAL_S
) -> AsyncIterator[None]:
    """Run the transport's subscribers, their groups in place and watched, until the block ends."""
    try:
        await transport.connect()
        await transport.recover()  # groups at 0 before FastStream would create them at "$"
        await transport.start()
        await start_stopped(transport)  # those FastStream does not run (NATS pullers)
        stopping = asyncio.Event()  # as well as a cancellation, which a library may swallow
        watchdog = asyncio.create_task(watch(transport, watch_interval_s, stopping))
        try:
            yield
        finally:
            stopping.set()
            watchdog.cancel()
            await asyncio.wait([watchdog])
    finally:
        with fetch_errors_hidden():
            for subscriber in subscribers(transport):
                await subscriber.stop()
            await transport.close()


class HideFetchErrors(logging.Filter):
    """Drops FastStream's "Message fetch error": while a subscriber stops, redis-py may turn the
    cancellation of a read in flight into a connection error, which is the stop, not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Message fetch error"


@contextlib.contextmanager
def fetch_errors_hidden() -> Iterator[None]:
    """The broker's fetch errors dropped while the block runs (the subscribers' stop)."""
    logger, hide = logging.getLogger(BROKER_LOGGER), HideFetchErrors()
    logger.addFilter(hide)
    try:
        yield
    finally:
        logger.removeFilter(hide)
