"""How the ingest settles a delivered batch when things go wrong.

* An outage (the database or the broker cannot be reached) is nobody's fault: the batch is held
  and tried again with backoff until it goes through. Meanwhile no new messages are taken (the
  subscriber is busy) and the transport keeps the batch claimed, so no delivery is counted.
* Any other failure is some message's own: the batch is split at once and each message settled
  alone, so its neighbours are settled within the same second; a message that still fails on its
  own `SOLO_ATTEMPTS` times is rejected as `poison` with the error, never retried for ever.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg
import structlog

from events.store import CONNECTION_LOST
from infra.broker import BROKER_OUTAGES
from services.pipeline.channels import Delivery, IngestHandler, PoisonHandler

SOLO_ATTEMPTS = 3
FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 10.0
OUTAGE_SQLSTATE_CLASSES = ("08", "53", "57", "58")
"""Connection exception, insufficient resources, operator intervention, system error."""
OUTAGE_ERRORS = (*CONNECTION_LOST, TimeoutError, *BROKER_OUTAGES)

log = structlog.get_logger()
T = TypeVar("T")


def is_outage(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means a server is unavailable, not a bad message."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, asyncpg.PostgresError):
            return str(seen.sqlstate)[:2] in OUTAGE_SQLSTATE_CLASSES
        if isinstance(seen, OUTAGE_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def through_outages(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run `attempt` until it succeeds or fails for a reason other than an outage; pauses
    between tries grow from `FIRST_PAUSE_S` to `LONGEST_PAUSE_S`."""
    pause = FIRST_PAUSE_S
    while True:
        try:
            return await attempt()
        except Exception as error:
            if not is_outage(error):
                raise
            log.warning("server unavailable; holding the batch", error=str(error), pause_s=pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE_S)


async def settle(
    handler: IngestHandler, poison: PoisonHandler, deliveries: Sequence[Delivery]
) -> None:
    """Settle `deliveries` through `handler`: whole if it can, else one by one."""
    try:
        await through_outages(lambda: handler(deliveries))
        return
    except Exception as error:
        if len(deliveries) == 1:
            await settle_alone(handler, poison, deliveries[0], first_error=error)
            return
        log.warning("batch failed; settling its messages one by one", error=repr(error),
                    size=len(deliveries))  # fmt: skip
    for delivery in deliveries:
        await settle_alone(handler, poison, delivery)


async def settle_alone(
    handler: IngestHandler,
    poison: PoisonHandler,
    delivery: Delivery,
    first_error: Exception | None = None,
) -> None:
    """Settle one delivery; after `SOLO_ATTEMPTS` failures of its own, reject it as poison."""
    error, attempts = first_error, int(first_error is not None)
    while attempts < SOLO_ATTEMPTS:
        try:
            await through_outages(lambda: handler([delivery]))
            return
        except Exception as failure:
            error, attempts = failure, attempts + 1
    log.error("message fails on its own; rejecting it", delivery_id=delivery.delivery_id,
              error=repr(error))  # fmt: skip
    reason = f"handling it failed {attempts} times on its own, last with {error!r}"
    await through_outages(lambda: poison(delivery, reason))
