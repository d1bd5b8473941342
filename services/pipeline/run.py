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

from events.rules import Sender
from events.store import EventStore
from infra.broker import Transport, create_transport, running
from infra.embedded import source_user
from infra.roles import DbRole
from infra.settings import Settings
from infra.tokens import local_signing_key
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.bootstrap import Servers, open_stores
from services.pipeline.anchors import Anchorer
from services.pipeline.channels import (
    INGEST_CHANNEL,
    Delivery,
    IngestHandler,
    PoisonHandler,
    publish_rejection,
    source_channel,
    subscribe_ingest,
    subscribe_wakeups,
)
from services.pipeline.ingest import TRUSTED_BROKER, Ingestor, Origin
from services.pipeline.relay import Relay
from services.pipeline.settle import settle, through_outages

log = structlog.get_logger()


class Part(StrEnum):
    """A service that can run on its own."""

    INGEST = "ingest"
    RELAY = "relay"
    PROJECT = "project"

    @property
    def role(self) -> DbRole:
        """The database role the part connects as."""
        return {Part.INGEST: DbRole.INGEST, Part.RELAY: DbRole.RELAY}.get(self, DbRole.PROJECTOR)


@dataclass(frozen=True)
class Running:
    """What the running parts share: for the HTTP API that runs beside them."""

    store: EventStore
    """The API's store (read only) when the API runs, else the first part's."""
    transport: Transport
    ingestor: Ingestor | None
    """The ingest, when the ingest or the API (its `POST /ingest`) runs."""
    runner: ProjectionRunner | None
    """The projector, when it runs."""


async def cancelled(task: "asyncio.Task[None]") -> None:
    """Cancel `task` and wait until it has stopped."""
    task.cancel()
    await asyncio.wait([task])


def consumer_name() -> str:
    """This process's name within a consumer group (one per replica)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def settling(ingestor: Ingestor, origin: Origin) -> tuple[IngestHandler, PoisonHandler]:
    """The ingest's batch handler for one channel (settling each batch through outages) and
    poison handler."""

    async def ingest(deliveries: Sequence[Delivery]) -> None:
        await ingestor.ingest(deliveries, origin)

    async def settle_batch(deliveries: Sequence[Delivery]) -> None:
        await settle(ingest, ingestor.reject_poison, deliveries)

    async def poison(delivery: Delivery, reason: str) -> None:
        await through_outages(lambda: ingestor.reject_poison(delivery, reason))

    return settle_batch, poison


@contextlib.asynccontextmanager
async def services(
    settings: Settings, urls: Servers, parts: Collection[Part], *, api: bool = False
) -> AsyncIterator[Running]:
    """Start `parts` against the servers (with `api`, also what the HTTP API needs: its read
    only store and the ingest for `POST /ingest`); stop them when the block ends. Each part
    connects as its own database login."""
    roles = [part.role for part in Part if part in parts]
    roles += [DbRole.API] + ([] if Part.INGEST in parts else [DbRole.INGEST]) if api else []
    async with open_stores(urls.database_url, settings, roles) as stores:
        transport = create_transport(urls.broker_url)

        async def reject(payload: dict[str, Any]) -> None:
            await publish_rejection(transport, payload)

        ingest_store = stores.get(DbRole.INGEST)
        ingestor = Ingestor(ingest_store, reject) if ingest_store else None
        projector = stores.get(DbRole.PROJECTOR)
        runner = ProjectionRunner(projector.pool, projector, PROJECTIONS) if projector else None
        consumer, idle = consumer_name(), settings.redeliver_after_s
        if ingestor and Part.INGEST in parts:
            origins = ingest_origins(settings)
            log.info("ingest channels", channels=[origin.channel for origin in origins])
            for origin in origins:
                subscribe_ingest(transport, *settling(ingestor, origin), consumer,
                                 channel=origin.channel, redeliver_after_s=idle)  # fmt: skip
        if runner:
            await runner.catch_up()
            # run() below follows the store; a zs.events batch only wakes it
            subscribe_wakeups(transport, runner.wake, consumer, redeliver_after_s=idle)
        async with running(transport), contextlib.AsyncExitStack() as stack:
            if Part.RELAY in parts:
                relay = asyncio.create_task(Relay(stores[DbRole.RELAY], transport).run())
                stack.push_async_callback(cancelled, relay)
            if Part.RELAY in parts and settings.anchor_dir is not None:
                key = local_signing_key(settings)
                anchorer = Anchorer(
                    stores[DbRole.RELAY], key, settings.anchor_dir, settings.anchor_every_s
                )
                stack.push_async_callback(cancelled, asyncio.create_task(anchorer.run()))
            if runner:  # reads the store; zs.events and NOTIFY only wake it
                projecting = asyncio.create_task(runner.run())
                stack.push_async_callback(cancelled, projecting)
            log.info("services running", parts=sorted(parts), consumer=consumer)
            store = stores.get(DbRole.API) or stores[roles[0]]
            yield Running(store, transport, ingestor, runner)


def ingest_origins(settings: Settings) -> list[Origin]:
    """The channels the ingest reads, each with what it proves: a source's own channel that its
    broker user alone may write, and the shared `zs.ingest`, trusted only where the setting
    says the broker network is."""
    origins = [
        Origin(f"broker:{source_user(source)}", source_channel(source), Sender(source))
        for source in settings.source_names
    ]
    if settings.broker_trusted_network:
        log.warning("zs.ingest is trusted (ZS_BROKER_TRUSTED_NETWORK): whoever can write to "
                    "the broker may write as any source")  # fmt: skip
        return [*origins, TRUSTED_BROKER]
    if not origins:
        log.warning("no source channels (ZS_BROKER_SOURCES) and zs.ingest is not trusted: "
                    "every message the broker delivers is rejected")  # fmt: skip
    refusal = (
        "the shared channel zs.ingest proves no source on a broker network that is not "
        f"trusted; publish to {INGEST_CHANNEL}.<source> as that source's broker user"
    )
    return [*origins, Origin("broker:untrusted-network", INGEST_CHANNEL, refusal=refusal)]


async def run_until_stopped(
    settings: Settings, urls: Servers, parts: Collection[Part], ready_fd: int | None = None
) -> None:
    """Run `parts` until SIGINT or SIGTERM; once they run, write a byte to `ready_fd` (if
    given: `zs up` waits for it) and close it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with services(settings, urls, parts):
        if ready_fd is not None:
            with contextlib.suppress(OSError):  # the parent may be gone
                os.write(ready_fd, b".")
            os.close(ready_fd)
        await stop.wait()
    log.info("services stopped", parts=sorted(parts))
