"""Attainment: one agreement's (`GET /agreements/{id}/attainment`, live, as known at an earlier
moment or as published by then, replayed from the store) and the portfolio (`GET /attainment`)
at one level of the cascade: the jobcenters' agreements, the Länder's or the federal ones.

Scope: a jobcenter's agreement is its jobcenter's and its Land's; a Land agreement its Land's (a
reader scoped to single jobcenters does not see it: it sums other jobcenters too); a federal
agreement a federal reader's only."""

from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from projections.attainment.answers import AgreementAttainment, PortfolioRow, TargetResult
from projections.engine.checkpoints import checkpoint_of
from services.api.auth import Principal, Reader, scope_sql
from services.api.csv_export import CSV_RESPONSES, ExportFormat, csv_response, wants_csv
from services.api.deps import (
    Connection,
    Limit,
    Moment,
    Offset,
    ReadAt,
    ReadAtDep,
    Year,
    page_count,
)
from services.api.errors import ApiError
from services.api.json_answers import json_answer, json_sql
from services.api.routes.agreements import require_in_scope
from services.replay import attainment_from_snapshot, attainment_published, position_of

LAND = "coalesce(y.land, j.land)"
"""An agreement's Land: a Land agreement's own, a jobcenter's agreement's jobcenter's."""
SELECT_AGREEMENT_ANSWER = f"""
SELECT c.checkpoint, y.jobcenter_id, {LAND} AS land, json_build_object(
    'agreement_id', y.agreement_id, 'jobcenter_id', y.jobcenter_id, 'level', y.level,
    'land', y.land, 'year', y.year, 'position', c.checkpoint,
    'targets', coalesce((SELECT json_agg({json_sql(TargetResult, "a")} ORDER BY a.ordinal)
                         FROM views.attainment AS a WHERE a.agreement_id = y.agreement_id), '[]')
  )::text AS answer
FROM (SELECT {checkpoint_of("$2")} AS checkpoint) AS c,
  views.agreement_years AS y LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE y.agreement_id = $1
"""
"""One agreement's live attainment answer (`AgreementAttainment` as JSON), written by
PostgreSQL, with the attainment checkpoint it stands at and what a scope check needs, in one
statement (its own snapshot)."""
SELECT_RESULTS = f"""
SELECT a.*, y.level, {LAND} AS land, count(*) OVER () AS total
FROM views.attainment a JOIN views.agreement_years y USING (agreement_id)
LEFT JOIN views.jobcenters j ON j.jobcenter_id = a.jobcenter_id
WHERE ($1::text IS NULL OR a.agreement_id = $1) AND ($2::int IS NULL OR a.year = $2)
  AND ($3::text IS NULL OR {LAND} = $3) AND ($4::text IS NULL OR a.indicator = $4)
  AND ($5::text IS NULL OR a.status = $5) AND ($8::text IS NULL OR y.level = $8)
  AND {scope_sql(LAND, "a.jobcenter_id", 9)}
ORDER BY a.year, a.agreement_id, a.ordinal
LIMIT $6 OFFSET $7
"""
Level = Literal["jobcenter", "land", "germany"]
"""The levels of `GET /attainment`, named as `GET /key-figures` names them."""
AGREEMENT_LEVEL: dict[Level, str] = {"jobcenter": "jobcenter", "land": "land", "germany": "federal"}

router = APIRouter()


class Portfolio(BaseModel):
    """A page of the portfolio view."""

    items: list[PortfolioRow]
    count: int


def target_result(row: asyncpg.Record) -> dict[str, Any]:
    """The `TargetResult` fields of an attainment row."""
    return {field: row[field] for field in TargetResult.model_fields}


@router.get(
    "/agreements/{agreement_id}/attainment",
    response_model=AgreementAttainment,
    responses={404: {}, 503: {}, **CSV_RESPONSES},
)
async def agreement_attainment(
    agreement_id: str,
    read: ReadAtDep,
    request: Request,
    response: Response,
    caller: Reader,
    as_of: Moment | None = None,
    as_of_position: Annotated[int | None, Query(ge=0)] = None,
    as_published: Moment | None = None,
    format: ExportFormat = None,
) -> AgreementAttainment | Response:
    """Current attainment of every target; with `as_of`/`as_of_position`, as known then (record
    time); with `as_published`, from the events published (`occurred_at`) by then, as known
    now or at `as_of`/`as_of_position`."""
    csv = wants_csv(request, format)
    if as_of is None and as_of_position is None and as_published is None:
        position, answer = await live_attainment(read, caller, agreement_id)
        if not csv:
            return json_answer(answer, position)
        result = AgreementAttainment.model_validate_json(answer)
    else:
        result = await attainment_then(
            read, caller, agreement_id, as_of, as_of_position, as_published
        )
    response.headers["X-Position"] = str(result.position)
    if csv:
        name = f"attainment-{agreement_id}-{result.position}.csv"
        return csv_response(result.targets, TargetResult, name, dict(response.headers))
    return result


async def live_attainment(read: ReadAt, caller: Principal, agreement_id: str) -> tuple[int, str]:
    """The live answer's position and JSON text (404 for an unknown agreement and one outside
    the caller's scope alike)."""
    await read.reached("attainment")
    row = await read.store.pool.fetchrow(SELECT_AGREEMENT_ANSWER, agreement_id, "attainment")
    if row is None or not caller.sees(row["land"], row["jobcenter_id"]):
        raise ApiError(404, "not_found", f"agreement {agreement_id!r} is not known")
    return int(row["checkpoint"]), str(row["answer"])


async def attainment_then(
    read: ReadAt,
    caller: Principal,
    agreement_id: str,
    as_of: datetime | None,
    as_of_position: int | None,
    as_published: datetime | None,
) -> AgreementAttainment:
    """The answer as known at `as_of`/`as_of_position`, or as published by `as_published`,
    replayed from the store."""
    await require_in_scope(read, caller, agreement_id)  # before the replay
    position = await position_of(read.store, as_of, as_of_position)
    result = (
        await attainment_from_snapshot(read.store, agreement_id, position)
        if as_published is None
        else await attainment_published(read.store, agreement_id, position, as_published)
    )
    if result is None:
        raise ApiError(404, "not_found", f"agreement {agreement_id!r} unknown at {position}")
    return result.model_copy(update={"position": position})


@router.get("/attainment", response_model=Portfolio, responses=CSV_RESPONSES)
async def portfolio(
    read: ReadAtDep,
    request: Request,
    response: Response,
    caller: Reader,
    year: Year = None,
    land: str | None = None,
    indicator: str | None = None,
    status: str | None = None,
    level: Level = "jobcenter",
    limit: Limit = 100,
    offset: Offset = 0,
    format: ExportFormat = None,
) -> Portfolio | Response:
    """One row per (agreement, target), filtered, for portfolio views: of the jobcenters'
    agreements (`level=jobcenter`, the default), the Länder's (`land`) or the federal ones
    (`germany`), each measured on its members' summed series."""
    if level == "germany" and land is not None:
        raise ApiError(422, "invalid_request", "land filters level=jobcenter or level=land")
    async with read.snapshot(response, "attainment") as connection:
        items, count = await portfolio_page(
            connection, caller, year, land, indicator, status, limit, offset, level
        )
    if wants_csv(request, format):
        name = f"portfolio-{response.headers['X-Position']}.csv"
        return csv_response(items, PortfolioRow, name, dict(response.headers))
    return Portfolio(items=items, count=count)


async def portfolio_page(
    connection: Connection, caller: Principal, year: int | None, land: str | None,
    indicator: str | None, status: str | None, limit: int, offset: int,
    level: Level = "jobcenter",
) -> tuple[list[PortfolioRow], int]:  # fmt: skip
    """A page of the portfolio rows of one level in the caller's scope, and their total
    count. Runs in a transaction (the snapshot's): its filters are optional (`$n IS NULL OR
    ...`), which a generic plan cannot use, so the statement is planned for its values (the
    generic plan joined the jobcenters by a nested loop: 175 ms for one Land's year of the
    national demo instead of 18 ms)."""
    await connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    rows = await connection.fetch(
        SELECT_RESULTS, None, year, land, indicator, status, limit, offset,
        AGREEMENT_LEVEL[level], *caller.scope_args(),
    )  # fmt: skip
    items = [
        PortfolioRow(
            **target_result(row), agreement_id=row["agreement_id"], level=row["level"],
            jobcenter_id=row["jobcenter_id"], land=row["land"], year=row["year"],
        )
        for row in rows
    ]  # fmt: skip
    return items, page_count(rows)
