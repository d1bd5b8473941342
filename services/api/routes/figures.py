"""`GET /figures`: monthly figures as known now, with their revision count and flags."""

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from events.envelope import Number
from events.store import EventStore
from projections.engine.checkpoints import checkpoint_of
from services.api.auth import Principal, Reader, scope_sql
from services.api.csv_export import CSV_RESPONSES, ExportFormat, csv_response, wants_csv
from services.api.deps import ERRORS, Limit, Moment, Offset, ReadAt, ReadAtDep, Year
from services.api.json_answers import json_answer, json_sql
from services.replay import figures_published

SELECT_SCOPE = (
    f"SELECT jobcenter_id FROM views.jobcenters WHERE {scope_sql('land', 'jobcenter_id', 1)}"
)

router = APIRouter()


class Figure(BaseModel):
    """A monthly figure as known now (the public contract's figure row): its publication in
    force, the latest by `occurred_at` (ties: the higher position)."""

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
    flags: list[str] = []
    """Consistency findings (never a rejection): `breakdown_sum_exceeds_total`,
    `fraction_missing`."""
    occurred_at: datetime
    """When the source published the publication in force (its envelope's `occurred_at`)."""


class Figures(BaseModel):
    """A page of figures."""

    items: list[Figure]
    count: int


SELECT_FIGURES = f"""
WITH page AS (
  SELECT f.jobcenter_id, f.indicator, f.breakdown, f.period, f.value, f.numerator,
         f.denominator, f.status, f.revision_count, f.position, f.flags, f.occurred_at,
         count(*) OVER () AS total
  FROM views.figures AS f LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
  WHERE ($1::text IS NULL OR f.jobcenter_id = $1) AND ($2::text IS NULL OR f.indicator = $2)
    AND ($3::text IS NULL OR f.period LIKE $3) AND {scope_sql("j.land", "f.jobcenter_id", 6)}
  ORDER BY f.jobcenter_id, f.indicator, f.breakdown, f.period LIMIT $4 OFFSET $5
)
SELECT {checkpoint_of("$9")} AS checkpoint, json_build_object(
    'items', coalesce(json_agg({json_sql(Figure, "page")}
                               ORDER BY page.jobcenter_id, page.indicator, page.breakdown,
                                        page.period), '[]'),
    'count', coalesce(max(page.total), 0)
  )::text AS answer
FROM page
"""
"""A page of figures (`Figures` as JSON, written by PostgreSQL) and the checkpoint it stands
at, in one statement (its own snapshot)."""


@router.get("/figures", response_model=Figures, responses={**ERRORS, **CSV_RESPONSES})
async def figures(
    at: ReadAtDep,
    request: Request,
    response: Response,
    caller: Reader,
    jobcenter_id: str | None = None,
    indicator: str | None = None,
    year: Year = None,
    limit: Limit = 100,
    offset: Offset = 0,
    as_published: Moment | None = None,
    format: ExportFormat = None,
) -> Figures | Response:
    """Monthly figures as known now, with their revision count and flags; with
    `as_published`, as the source had published them by then (envelope `occurred_at`),
    replayed from the store."""
    if as_published is not None:
        answer = await _published(at, response, caller, as_published, jobcenter_id, indicator,
                                  year, limit, offset)  # fmt: skip
        if wants_csv(request, format):
            name = f"figures-published-{response.headers['X-Position']}.csv"
            return csv_response(answer.items, Figure, name, dict(response.headers))
        return answer
    period = None if year is None else f"{year:04d}-%"
    await at.reached("figures")
    row = await at.store.pool.fetchrow(
        SELECT_FIGURES, jobcenter_id, indicator, period, limit, offset, *caller.scope_args(),
        "figures",
    )  # fmt: skip
    assert row is not None  # an aggregate: always one row
    if not wants_csv(request, format):
        return json_answer(row["answer"], row["checkpoint"])
    items = Figures.model_validate_json(row["answer"]).items
    position = {"X-Position": str(row["checkpoint"])}
    return csv_response(items, Figure, f"figures-{row['checkpoint']}.csv", position)


async def _published(
    at: ReadAt, response: Response, caller: Principal, published: datetime,
    jobcenter_id: str | None, indicator: str | None, year: int | None, limit: int, offset: int,
) -> Figures:  # fmt: skip
    """The figures as published by `published`, of the log as it is now (`X-Position`)."""
    async with at.snapshot(response, None) as connection:
        position = await EventStore.head(connection)
        jobcenters = None
        if not caller.federal:
            rows = await connection.fetch(SELECT_SCOPE, *caller.scope_args())
            jobcenters = sorted({r["jobcenter_id"] for r in rows} | set(caller.jobcenters or ()))
    found = await figures_published(
        at.store, position, published, jobcenter_id=jobcenter_id, indicator=indicator,
        year=year, jobcenters=jobcenters,
    )  # fmt: skip
    items = [
        Figure(
            jobcenter_id=row.jobcenter_id, indicator=row.indicator, breakdown=row.breakdown,
            period=row.period, value=row.value, numerator=row.numerator,
            denominator=row.denominator, status=row.status, revision_count=row.revision_count,
            position=row.position, flags=flags, occurred_at=row.occurred_at,
        )
        for row, flags in found[offset : offset + limit]
    ]  # fmt: skip
    return Figures(items=items, count=len(found))
