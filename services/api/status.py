"""How the process stands, for `/health`, `/ready` and `/metrics`: the store's head, each
projection's checkpoint and lag, the relay's lag, and whether the broker answers.

A projection or the relay further behind than `ZS_HEALTH_MAX_LAG_EVENTS` events, an unreachable
database or a broker that does not answer (unreachable, or still loading its data after a
restart) each add a reason; any reason makes `/health` degraded and `/ready` 503. Every look
asks the broker afresh: a reason is gone with the first look after the broker answers again.
Requests that come while a look is under way share it (`Looks`): under load, one look serves
many requests instead of each asking the database and the broker itself.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from events.store import EventStore, head_and_record_times
from infra.broker import BROKER_LOADING, BROKER_OUTAGES, Transport
from projections.registry import PROJECTIONS
from services.pipeline.channels import INGEST_CHANNEL, INGEST_GROUP

BROKER_TIMEOUT_S = 2.0
DEFAULT_MAX_LAG_EVENTS = 1000
BROKER_UNREACHABLE = "broker unreachable"
BROKER_LOADING_DATA = "broker loading its data"
RETRIED: tuple[type[Exception], ...] = (OSError, *BROKER_OUTAGES)
"""A failed look asked once more: a connection dropped by a restarted broker fails once."""
_PROGRESS_POSITIONS = (
    "SELECT position FROM head UNION SELECT position FROM relay"
    " UNION SELECT position FROM service.checkpoints"
)
SELECT_PROGRESS = f"""
WITH relay AS (SELECT coalesce((SELECT position FROM service.relay_checkpoint), 0) AS position),
{head_and_record_times(_PROGRESS_POSITIONS)}
SELECT (SELECT position FROM head) AS head,
       (SELECT position FROM relay) AS relay,
       ARRAY(SELECT projection FROM service.checkpoints ORDER BY projection) AS projections,
       ARRAY(SELECT position FROM service.checkpoints ORDER BY projection) AS checkpoints,
       ARRAY(SELECT position FROM recorded ORDER BY position) AS recorded_positions,
       ARRAY(SELECT recorded_at FROM recorded ORDER BY position) AS recorded_at
"""
"""The store's head, the relay's and every projection's checkpoint, and when each of these
positions was recorded: one round trip."""


@dataclass
class Status:
    """One look at the process's dependencies and progress."""

    position: int | None = None
    """The store's head; None when the database did not answer."""
    projections: dict[str, int] = field(default_factory=dict)
    """Checkpoint of every projection that has one."""
    lag_events: dict[str, int] = field(default_factory=dict)
    """head - checkpoint for every projection the services run (and `relay`)."""
    lag_seconds: dict[str, float] = field(default_factory=dict)
    """recorded_at(head) - recorded_at(checkpoint), for the same names."""
    database: bool = False
    broker: bool | None = None
    """None: this process has no broker connection to check."""
    reasons: list[str] = field(default_factory=list)


async def broker_problem(transport: Transport) -> str | None:
    """None when the broker answers a small request within `BROKER_TIMEOUT_S`; else why not:
    it is loading its data (up, not yet serving) or it is unreachable."""
    for attempt in (1, 2):
        try:
            await asyncio.wait_for(
                transport.pending(INGEST_CHANNEL, INGEST_GROUP), BROKER_TIMEOUT_S
            )
        except BROKER_LOADING:
            return BROKER_LOADING_DATA
        except TimeoutError:
            return BROKER_UNREACHABLE
        except RETRIED:
            if attempt == 2:
                return BROKER_UNREACHABLE
            # A pooled connection the broker dropped when it restarted fails once and is
            # discarded; the second attempt asks on a fresh one.
        except Exception:  # an answer, if not the one asked for (no such group yet)
            return None
        else:
            return None
    return BROKER_UNREACHABLE


def lag_in_seconds(head: int, at: dict[int, datetime], position: int) -> float:
    """Seconds between recording the head and recording `position` (0 when caught up)."""
    if position >= head or head not in at:
        return 0.0
    start = at.get(position)
    return (at[head] - start).total_seconds() if start else 0.0


class Looks:
    """Looks at the status one at a time: a caller that comes while a look is under way gets
    that look's result (begun before it came, at most one look's time earlier) instead of
    starting another; the next caller after it ends starts a fresh one."""

    def __init__(self, looking: Callable[[], Awaitable[Status]]) -> None:
        self.looking = looking
        self.under_way: asyncio.Future[Status] | None = None

    async def __call__(self) -> Status:
        if self.under_way is None:
            under_way = self.under_way = asyncio.ensure_future(self.looking())
            under_way.add_done_callback(self.ended)
        return await asyncio.shield(self.under_way)  # a caller's cancellation spares the look

    def ended(self, look: "asyncio.Future[Status]") -> None:
        """Forget the look that ended (the next caller starts a fresh one)."""
        if self.under_way is look:
            self.under_way = None


def looks(store: EventStore, transport: Transport | None, max_lag: int) -> Looks:
    """The shared looks at `store`, the projections, the relay and the broker (`probe`)."""
    return Looks(lambda: look(store, transport, max_lag))


async def probe(app: FastAPI) -> Status:
    """The status of the app's store, the projections, the relay and the broker: the look under
    way, or a fresh one."""
    shared: Looks = app.state.looks
    return await shared()


async def look(
    store: EventStore, transport: Transport | None = None,
    max_lag: int = DEFAULT_MAX_LAG_EVENTS,
) -> Status:  # fmt: skip
    """The status of `store`, the projections, the relay and the broker (None: not checked)."""
    status = Status()
    if transport is not None:
        problem = await broker_problem(transport)
        status.broker = problem is None
        if problem:
            status.reasons.append(problem)
    try:
        row = await store.pool.fetchrow(SELECT_PROGRESS)
    except OSError as error:
        status.reasons.insert(0, f"database unreachable: {error}")
        return status
    except Exception as error:
        status.reasons.insert(0, f"database unreachable: {type(error).__name__}: {error}")
        return status
    assert row is not None  # every column is a scalar subquery: always one row
    status.position = head = int(row["head"])
    status.projections = dict(zip(row["projections"], row["checkpoints"], strict=True))
    behind = {p.name: status.projections.get(p.name, 0) for p in PROJECTIONS}
    behind["relay"] = int(row["relay"])
    at = dict(zip(row["recorded_positions"], row["recorded_at"], strict=True))
    status.database = True
    for name, position in behind.items():
        status.lag_events[name] = head - position
        status.lag_seconds[name] = lag_in_seconds(head, at, position)
        if head - position > max_lag:
            status.reasons.append(f"{name} lags {head - position} events (limit {max_lag})")
    return status


def as_health(status: Status) -> dict[str, Any]:
    """The fields of the `/health` answer."""
    answer: dict[str, Any] = {
        "status": "degraded" if status.reasons else "ok",
        "position": status.position,
        "projections": status.projections,
    }
    if status.reasons:
        answer["reasons"] = status.reasons
    return answer
