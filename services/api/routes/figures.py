"""`GET /figures`: monthly figures as known now, with their revision count."""

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from events.envelope import Number
from services.api.auth import Reader, scope_sql
from services.api.csv_export import CSV_RESPONSES, ExportFormat, csv_response, wants_csv
from services.api.deps import ERRORS, Limit, Offset, ReadAtDep, page_count

SELECT_FIGURES = f"""
SELECT f.jobcenter_id, f.indicator, f.breakdown, f.period, f.value, f.numerator, f.denominator,
       f.status, f.revision_count, f.position, count(*) OVER () AS total
FROM views.figures AS f LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE ($1::text IS NULL OR f.jobcenter_id = $1) AND ($2::text IS NULL OR f.indicator = $2)
  AND ($3::text IS NULL OR f.period LIKE $3) AND {scope_sql("j.land", "f.jobcenter_id", 6)}
ORDER BY f.jobcenter_id, f.indicator, f.breakdown, f.period LIMIT $4 OFFSET $5
"""

router = APIRouter()


class Figure(BaseModel):
    """A monthly figure as known now (the public contract's figure row)."""

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


@router.get("/figures", response_model=Figures, responses={**ERRORS, **CSV_RESPONSES})
async def figures(
    at: ReadAtDep,
    request: Request,
    response: Response,
    caller: Reader,
    jobcenter_id: str | None = None,
    indicator: str | None = None,
    year: int | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    format: ExportFormat = None,
) -> Figures | Response:
    """Monthly figures as known now, with their revision count."""
    period = None if year is None else f"{year:04d}-%"
    async with at.snapshot(response, "figures") as connection:
        rows = await connection.fetch(
            SELECT_FIGURES, jobcenter_id, indicator, period, limit, offset, *caller.scope_args()
        )
    items = [Figure(**dict(r)) for r in rows]
    if wants_csv(request, format):
        name = f"figures-{response.headers['X-Position']}.csv"
        return csv_response(items, Figure, name, dict(response.headers))
    return Figures(items=items, count=page_count(rows))
