"""The running services: ingest, relay and projector, each alone (`zs ingest`, `zs relay`,
`zs project`: one process each, as a supervisor would run them) or all in one (`zs up`)."""

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from events.store import EventStore
from infra.broker import Transport, create_transport, running
from infra.settings import Settings
from infra.tokens import local_signing_key
from projections.registry import PROJECTIONS
from projections.runner import ProjectionRunner
from services.bootstrap import Servers, open_store
from services.pipeline.anchors import Anchorer
from services.pipeline.channels import (
    Delivery,
    publish_rejection,
    subscribe_events,
    subscribe_ingest,
)
from services.pipeline.ingest import Ingestor
from services.pipeline.relay import Relay
from services.pipeline.settle import settle, through_outages

log = structlog.get_logger()


class Part(StrEnum):
    """A service that can run on its own."""

    INGEST = "ingest"
    RELAY = "relay"
    PROJECT = "project"


@dataclass(frozen=True)
class Running:
    """What the running parts share: for the HTTP API that runs beside them."""

    store: EventStore
    transport: Transport
    ingestor: Ingestor
    runner: ProjectionRunner


async def cancelled(task: "asyncio.Task[None]") -> None:
    """Cancel `task` and wait until it has stopped."""
    task.cancel()
    await asyncio.wait([task])


def consumer_name() -> str:
    """This process's name within a consumer group (one per replica)."""
    return f"{socket.gethostname()}-{os.getpid()}"


@contextlib.asynccontextmanager
async def services(
    settings: Settings, urls: Servers, parts: Collection[Part]
) -> AsyncIterator[Running]:
    """Start `parts` against the servers; stop them when the block ends."""
    async with open_store(urls.database_url, settings) as store:
        transport = create_transport(urls.broker_url)

        async def reject(payload: dict[str, Any]) -> None:
            await publish_rejection(transport, payload)

        async def ingest(deliveries: Sequence[Delivery]) -> None:
            await ingestor.ingest(deliveries)

        async def settle_batch(deliveries: Sequence[Delivery]) -> None:
            await settle(ingest, ingestor.reject_poison, deliveries)

        async def poison(delivery: Delivery, reason: str) -> None:
            await through_outages(lambda: ingestor.reject_poison(delivery, reason))

        ingestor = Ingestor(store, reject)
        runner = ProjectionRunner(store.pool, store, PROJECTIONS)
        consumer, idle = consumer_name(), settings.redeliver_after_s
        if Part.INGEST in parts:
            subscribe_ingest(transport, settle_batch, poison, consumer, redeliver_after_s=idle)
        if Part.PROJECT in parts:
            await runner.catch_up()
            subscribe_events(transport, runner.project, consumer, redeliver_after_s=idle)
        async with running(transport), contextlib.AsyncExitStack() as stack:
            if Part.RELAY in parts:
                relay = asyncio.create_task(Relay(store, transport).run())
                stack.push_async_callback(cancelled, relay)
            if Part.RELAY in parts and settings.anchor_dir is not None:
                key = local_signing_key(settings)
                anchorer = Anchorer(store, key, settings.anchor_dir, settings.anchor_every_s)
                stack.push_async_callback(cancelled, asyncio.create_task(anchorer.run()))
            if Part.PROJECT in parts:  # reads the store; zs.events and NOTIFY only wake it
                projecting = asyncio.create_task(runner.run())
                stack.push_async_callback(cancelled, projecting)
            log.info("services running", parts=sorted(parts), consumer=consumer)
            yield Running(store, transport, ingestor, runner)


async def run_until_stopped(settings: Settings, urls: Servers, parts: Collection[Part]) -> None:
    """Run `parts` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with services(settings, urls, parts):
        await stop.wait()
    log.info("services stopped", parts=sorted(parts))
