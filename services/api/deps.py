"""What the routes depend on: the store, the ingest, and where a read must stand.

Every read answers from one snapshot and sends its position as header `X-Position`: the
projection's checkpoint read in the same snapshot as its rows (the store's head for reads of
the log). `?min_position=n` first waits until that position reaches n, else answers 503
`not_caught_up`.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from fastapi import Depends, Query, Request, Response
from pydantic import AfterValidator

from events.store import EventStore, Reader
from projections.engine.checkpoints import Checkpoints
from services.api.errors import ApiError
from services.pipeline.ingest import Ingestor

CATCH_UP_TIMEOUT = 5.0
"""Seconds a `min_position` request waits at most (override: `app.state.catch_up_timeout`)."""
POLL_INTERVAL = 0.05

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
ERRORS: dict[int | str, dict[str, Any]] = {503: {"description": "not caught up"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown agreement"}, **ERRORS}
SELECT_JOBCENTER_LAND = "SELECT land FROM views.jobcenters WHERE jobcenter_id = $1"


async def wait_for_position(
    read: Callable[[], Awaitable[int]], min_position: int | None, within: float
) -> int:
    """Poll `read` until it reaches `min_position` (None: no wait); its value, or 503 after
    `within` seconds."""
    deadline = time.monotonic() + within
    position = await read()
    while min_position is not None and position < min_position:
        if time.monotonic() >= deadline:
            raise ApiError(
                503, "not_caught_up",
                f"position {position} has not reached {min_position} within {within:g} s",
            )  # fmt: skip
        await asyncio.sleep(POLL_INTERVAL)
        position = await read()
    return position


@dataclass(frozen=True)
class ReadAt:
    """Where a read must stand: the store, the position asked for, how long to wait for it."""

    store: EventStore
    min_position: int | None
    timeout: float

    @asynccontextmanager
    async def snapshot(
        self, response: Response, projection: str | None
    ) -> AsyncIterator[Connection]:
        """A read-only snapshot level with `min_position`, its position (the `projection`'s
        checkpoint, or the store's head for None) sent as `X-Position`."""
        pool = self.store.pool
        await self.reached(projection)
        async with (
            pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            response.headers["X-Position"] = str(await position(connection, projection))
            yield connection

    async def reached(self, projection: str | None) -> None:
        """Wait until the `projection`'s checkpoint (the store's head for None) reaches
        `min_position` (no wait without one): for a read of one statement, which is its own
        snapshot and reads the checkpoint with its rows."""
        if self.min_position is not None:
            await wait_for_position(
                lambda: position(self.store.pool, projection), self.min_position, self.timeout
            )


async def position(reader: Reader, projection: str | None) -> int:
    """The `projection`'s checkpoint, or the store's head for None, as `reader` sees it."""
    if projection is None:
        return await EventStore.head(reader)
    return await Checkpoints.read(reader, projection)


async def read_at(
    request: Request, min_position: Annotated[int | None, Query(ge=0)] = None
) -> ReadAt:
    """The dependency every read takes: its store, `?min_position=` and the wait limit."""
    timeout = getattr(request.app.state, "catch_up_timeout", CATCH_UP_TIMEOUT)
    return ReadAt(request.app.state.store, min_position, float(timeout))


async def get_store(request: Request) -> EventStore:
    """The store the app was created with."""
    store: EventStore = request.app.state.store
    return store


async def get_ingestor(request: Request) -> Ingestor:
    """The ingest the app was created with."""
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


ReadAtDep = Annotated[ReadAt, Depends(read_at)]
StoreDep = Annotated[EventStore, Depends(get_store)]
IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]
MAX_BIGINT = 2**63 - 1
"""The largest value a PostgreSQL bigint holds: the bound of every offset bound to SQL."""
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_BIGINT)]
Year = Annotated[int | None, Query(ge=1, le=9999)]
"""A calendar year filter (a larger number could not be bound to SQL: 422, not 500)."""


def storable_moment(value: datetime) -> datetime:
    """`value`, if it names its time zone (the contract's rule for times; compared with the
    recorded times, one without would fail) and its UTC time (what the database compares) lies
    within years 1 to 9999."""
    if value.tzinfo is None:
        raise ValueError("the time needs a time zone, e.g. 2022-10-27T08:00:00Z")
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("the time in UTC lies outside the years 1 to 9999") from None
    return value


Moment = Annotated[datetime, AfterValidator(storable_moment)]
"""A time filter (`since`, `as_of`, `as_published`): 422 when it names no time zone or has no
UTC time the database could hold (`9999-12-31T23:59:59-23:59`), not 500."""


async def jobcenter_land(reader: Reader, jobcenter_id: str) -> str | None:
    """The Land of a jobcenter as the read model knows it (None for an unknown one): what a
    scope check of a route that names the jobcenter needs."""
    land: str | None = await reader.fetchval(SELECT_JOBCENTER_LAND, jobcenter_id)
    return land


def page_count(rows: list[asyncpg.Record]) -> int:
    """The total a page's rows carry in their `total` column (0 for an empty page)."""
    return int(rows[0]["total"]) if rows else 0
