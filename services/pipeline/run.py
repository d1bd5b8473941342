"""The running services: ingest, relay and projector, each alone (`zs ingest`, `zs relay`,
`zs project`: one process each, as a supervisor would run them) or all in one. They receive
their stores and transport from the composition root, `services/bootstrap.py`."""

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Collection, Sequence
from enum import StrEnum

import structlog

from events.rules import Sender
from events.store import EventStore
from infra.broker import Transport, running
from infra.embedded import source_user
from infra.roles import DbRole
from infra.settings import Settings
from infra.tokens import local_signing_key
from projections.engine.runner import ProjectionRunner
from services.pipeline.anchors import Anchorer
from services.pipeline.channels import (
    INGEST_CHANNEL,
    Delivery,
    IngestHandler,
    PoisonHandler,
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
async def running_parts(
    settings: Settings,
    parts: Collection[Part],
    transport: Transport,
    ingestor: Ingestor | None,
    runner: ProjectionRunner | None,
    relay_store: EventStore | None,
) -> AsyncIterator[None]:
    """Run `parts` on what the composition root (`services/bootstrap.py`) made for them: the
    ingest subscribed to its channels, the projector following the store, the relay (and the
    anchorer) publishing it; stop them when the block ends. The block starts once they are
    connected and subscribed: the projector's catch-up (and a rebuild of a projection whose
    version changed, however long) runs in its tasks meanwhile, its progress on `/health`."""
    consumer, idle = consumer_name(), settings.redeliver_after_s
    if ingestor and Part.INGEST in parts:
        origins = ingest_origins(settings)
        log.info("ingest channels", channels=[origin.channel for origin in origins])
        for origin in origins:
            subscribe_ingest(transport, *settling(ingestor, origin), consumer,
                             channel=origin.channel, redeliver_after_s=idle)  # fmt: skip
    if runner:  # run() below catches up and follows the store; a zs.events batch only wakes it
        subscribe_wakeups(transport, runner.wake, consumer, redeliver_after_s=idle)
    async with running(transport), contextlib.AsyncExitStack() as stack:
        if Part.RELAY in parts and relay_store:
            relay = asyncio.create_task(Relay(relay_store, transport).run())
            stack.push_async_callback(cancelled, relay)
        if Part.RELAY in parts and relay_store and settings.anchor_dir is not None:
            key = local_signing_key(settings)
            anchorer = Anchorer(relay_store, key, settings.anchor_dir, settings.anchor_every_s)
            stack.push_async_callback(cancelled, asyncio.create_task(anchorer.run()))
        if runner:  # reads the store; zs.events and NOTIFY only wake it
            projecting = asyncio.create_task(runner.run())
            stack.push_async_callback(cancelled, projecting)
        log.info("services running", parts=sorted(parts), consumer=consumer)
        yield


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
