"""The read side of the HTTP API: jobcenters, agreements, figures and an agreement's history.

Every answer reflects one position, sent as header `X-Position`: a projection's checkpoint read
in the same snapshot as its rows (the store's head for history). `?min_position=n` first waits
until that position reaches n, else answers 503 `not_caught_up`.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from events.envelope import Number
from events.store import EVENT_COLUMNS, EventStore, RecordedEvent
from projections.runner import Connection
from services.errors import ApiError

CATCH_UP_TIMEOUT = 5.0
"""Seconds a `min_position` request waits at most (override: `app.state.catch_up_timeout`)."""
POLL_INTERVAL = 0.05

SELECT_CHECKPOINT = (
    "SELECT coalesce(max(position), 0) FROM service.checkpoints WHERE projection = $1"
)
SELECT_HEAD = "SELECT coalesce(max(position), 0) FROM store.events"
SELECT_JOBCENTERS = """
SELECT jobcenter_id, name, land, kind, position, count(*) OVER () AS total
FROM views.jobcenters ORDER BY jobcenter_id LIMIT $1 OFFSET $2
"""
AGREEMENT_COLUMNS = """
a.agreement_id, a.jobcenter_id, j.land, a.year, a.parties, a.signed_on, a.title, a.status,
a.closed_on, a.position
"""
SELECT_AGREEMENTS = f"""
SELECT {AGREEMENT_COLUMNS}, count(*) OVER () AS total
FROM views.agreements AS a LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE ($1::integer IS NULL OR a.year = $1) AND ($2::text IS NULL OR a.jobcenter_id = $2)
  AND ($3::text IS NULL OR j.land = $3)
ORDER BY a.year, a.jobcenter_id, a.agreement_id LIMIT $4 OFFSET $5
"""
SELECT_AGREEMENT = f"""
SELECT {AGREEMENT_COLUMNS}
FROM views.agreements AS a LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE a.agreement_id = $1
"""
SELECT_TARGETS = """
SELECT target_id, indicator, breakdown, comparator, unit, aggregation, budget_line, label,
       agreed_value, value_in_force, amendments, withdrawn, position
FROM views.targets WHERE agreement_id = $1 ORDER BY position
"""
SELECT_GOALS = """
SELECT goal_id, section, text, state_support, position
FROM views.goals WHERE agreement_id = $1 ORDER BY position
"""
SELECT_BUDGET_LINES = """
SELECT budget_line, allocated, measures, deviations, current, position
FROM views.budget_lines WHERE agreement_id = $1 ORDER BY position
"""
SELECT_DIALOGS = """
SELECT held_on, summary, position FROM views.dialogs WHERE agreement_id = $1 ORDER BY position
"""
SELECT_FIGURES = """
SELECT jobcenter_id, indicator, breakdown, period, value, numerator, denominator, status,
       revision_count, position, count(*) OVER () AS total
FROM views.figures
WHERE ($1::text IS NULL OR jobcenter_id = $1) AND ($2::text IS NULL OR indicator = $2)
  AND ($3::text IS NULL OR period LIKE $3)
ORDER BY jobcenter_id, indicator, breakdown, period LIMIT $4 OFFSET $5
"""
SELECT_CONCLUSION = """
SELECT data->>'jobcenter_id' AS jobcenter_id, (data->>'year')::integer AS year
FROM store.events WHERE stream_id = $1 AND type = 'AgreementConcluded'
"""
SELECT_HISTORY = f"""
SELECT {", ".join(EVENT_COLUMNS)}, count(*) OVER () AS total
FROM store.events
WHERE position <= $4 AND (stream_id = $1 OR (stream_id = $2 AND data->>'period' LIKE $3))
ORDER BY position LIMIT $5 OFFSET $6
"""


# --- position: X-Position and ?min_position= -------------------------------------------------


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
        query, args = (
            (SELECT_HEAD, ()) if projection is None else (SELECT_CHECKPOINT, (projection,))
        )
        pool = self.store.pool

        async def read() -> int:
            return int(await pool.fetchval(query, *args))

        await wait_for_position(read, self.min_position, self.timeout)
        async with (
            pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            position = int(await connection.fetchval(query, *args))
            response.headers["X-Position"] = str(position)
            yield connection


def read_at(request: Request, min_position: Annotated[int | None, Query(ge=0)] = None) -> ReadAt:
    """The dependency every read takes: its store, `?min_position=` and the wait limit."""
    timeout = getattr(request.app.state, "catch_up_timeout", CATCH_UP_TIMEOUT)
    return ReadAt(request.app.state.store, min_position, float(timeout))


ReadAtDep = Annotated[ReadAt, Depends(read_at)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


# --- response models -------------------------------------------------------------------------


class Jobcenter(BaseModel):
    """A registered jobcenter."""

    jobcenter_id: str
    name: str
    land: str
    kind: str
    position: int


class Jobcenters(BaseModel):
    """A page of jobcenters."""

    items: list[Jobcenter]
    count: int


class AgreementSummary(BaseModel):
    """An agreement with its status (`open` or `closed`)."""

    agreement_id: str
    jobcenter_id: str
    land: str | None
    year: int
    parties: list[str]
    signed_on: date | None
    title: str | None
    status: str
    closed_on: date | None
    position: int


class Agreements(BaseModel):
    """A page of agreements."""

    items: list[AgreementSummary]
    count: int


class Amendment(BaseModel):
    """One recorded amendment of a target."""

    value: Number
    effective_from: date
    reason: str
    position: int


class Target(BaseModel):
    """A target: agreed value, value in force (latest amendment, not budget-scaled)."""

    target_id: str
    indicator: str
    breakdown: str
    comparator: str
    unit: str
    aggregation: str
    budget_line: str | None
    label: str | None
    agreed_value: Number
    value_in_force: Number
    amendments: list[Amendment]
    withdrawn: bool
    position: int


class Goal(BaseModel):
    """A qualitative goal with what the Land does to support it."""

    goal_id: str
    section: str
    text: str
    state_support: list[str]
    position: int


class Deviation(BaseModel):
    """An in-year change of a budget line."""

    period: str
    amount_eur: Number
    reason: str
    position: int


class BudgetLine(BaseModel):
    """A budget line: allocated, its deviations, and the current amount (their sum)."""

    budget_line: str
    allocated: Number
    measures: list[str]
    deviations: list[Deviation]
    current: Number
    position: int


class Dialog(BaseModel):
    """A target dialogue held."""

    held_on: date
    summary: str
    position: int


class AgreementDetail(AgreementSummary):
    """An agreement with its targets, goals, budget lines and dialogues."""

    targets: list[Target]
    goals: list[Goal]
    budget_lines: list[BudgetLine]
    dialogs: list[Dialog]


class Figure(BaseModel):
    """A monthly figure as known now (CONTRACT.md §3)."""

    jobcenter_id: str
    indicator: str
    breakdown: str
    period: str
    value: Number
    numerator: Number | None
    denominator: Number | None
    status: str
    revision_count: int
    position: int


class Figures(BaseModel):
    """A page of figures."""

    items: list[Figure]
    count: int


class History(BaseModel):
    """A page of recorded events (CONTRACT.md §2), in position order."""

    items: list[RecordedEvent]
    count: int


# --- routes ----------------------------------------------------------------------------------

ERRORS: dict[int | str, dict[str, Any]] = {503: {"description": "not caught up"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown agreement"}, **ERRORS}
router = APIRouter()


def page_count(rows: list[asyncpg.Record]) -> int:
    """The total a page's rows carry in their `total` column (0 for an empty page)."""
    return int(rows[0]["total"]) if rows else 0


@router.get("/jobcenters", responses=ERRORS)
async def jobcenters(
    at: ReadAtDep, response: Response, limit: Limit = 100, offset: Offset = 0
) -> Jobcenters:
    """Registered jobcenters, by id."""
    async with at.snapshot(response, "agreements") as connection:
        rows = await connection.fetch(SELECT_JOBCENTERS, limit, offset)
    return Jobcenters(items=[Jobcenter(**dict(r)) for r in rows], count=page_count(rows))


@router.get("/agreements", responses=ERRORS)
async def agreements(
    at: ReadAtDep,
    response: Response,
    year: int | None = None,
    jobcenter_id: str | None = None,
    land: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Agreements:
    """Agreements with their status, by year and jobcenter."""
    async with at.snapshot(response, "agreements") as connection:
        rows = await connection.fetch(SELECT_AGREEMENTS, year, jobcenter_id, land, limit, offset)
    items = [AgreementSummary(**dict(r)) for r in rows]
    return Agreements(items=items, count=page_count(rows))


@router.get("/agreements/{agreement_id}", responses=NOT_FOUND)
async def agreement(agreement_id: str, at: ReadAtDep, response: Response) -> AgreementDetail:
    """The agreement: parties, targets, goals, budget lines with deviations, dialogues."""
    async with at.snapshot(response, "agreements") as connection:
        row = await connection.fetchrow(SELECT_AGREEMENT, agreement_id)
        if row is None:
            raise ApiError(404, "not_found", f"no agreement {agreement_id!r}")
        parts = {
            name: [dict(r) for r in await connection.fetch(query, agreement_id)]
            for name, query in (
                ("targets", SELECT_TARGETS), ("goals", SELECT_GOALS),
                ("budget_lines", SELECT_BUDGET_LINES), ("dialogs", SELECT_DIALOGS),
            )
        }  # fmt: skip
    return AgreementDetail.model_validate(dict(row) | parts)


@router.get("/figures", responses=ERRORS)
async def figures(
    at: ReadAtDep,
    response: Response,
    jobcenter_id: str | None = None,
    indicator: str | None = None,
    year: int | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Figures:
    """Monthly figures as known now, with their revision count."""
    period = None if year is None else f"{year:04d}-%"
    async with at.snapshot(response, "figures") as connection:
        rows = await connection.fetch(
            SELECT_FIGURES, jobcenter_id, indicator, period, limit, offset
        )
    return Figures(items=[Figure(**dict(r)) for r in rows], count=page_count(rows))


@router.get("/agreements/{agreement_id}/history", responses=NOT_FOUND)
async def history(
    agreement_id: str, at: ReadAtDep, response: Response, limit: Limit = 100, offset: Offset = 0
) -> History:
    """Every recorded event of the agreement and of its jobcenter's figures for its year."""
    stream_id = f"agreement-{agreement_id}"
    async with at.snapshot(response, None) as connection:
        head = int(response.headers["X-Position"])
        concluded = await connection.fetchrow(SELECT_CONCLUSION, stream_id)
        if concluded is None:
            raise ApiError(404, "not_found", f"no agreement {agreement_id!r}")
        figures_stream = f"figures-{concluded['jobcenter_id']}"
        period = f"{concluded['year']:04d}-%"
        rows = await connection.fetch(
            SELECT_HISTORY, stream_id, figures_stream, period, head, limit, offset
        )
    items = [recorded_event(row) for row in rows]
    return History(items=items, count=page_count(rows))


def recorded_event(row: asyncpg.Record) -> RecordedEvent:
    """A history row as a recorded event (without its window total)."""
    return RecordedEvent.model_construct(**{column: row[column] for column in EVENT_COLUMNS})
