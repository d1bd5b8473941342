"""`GET /figures`: monthly figures as known now, with their revision count and flags."""

from fastapi import APIRouter, Response
from pydantic import BaseModel

from events.envelope import Number
from services.api.auth import Reader, scope_sql
from services.api.deps import ERRORS, Limit, Offset, ReadAtDep, page_count

SELECT_FIGURES = f"""
SELECT f.jobcenter_id, f.indicator, f.breakdown, f.period, f.value, f.numerator, f.denominator,
       f.status, f.revision_count, f.position, f.flags, count(*) OVER () AS total
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
    flags: list[str] = []
    """Consistency findings (never a rejection): `breakdown_sum_exceeds_total`,
    `fraction_missing`."""


class Figures(BaseModel):
    """A page of figures."""

    items: list[Figure]
    count: int


@router.get("/figures", responses=ERRORS)
async def figures(
    at: ReadAtDep,
    response: Response,
    caller: Reader,
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
            SELECT_FIGURES, jobcenter_id, indicator, period, limit, offset, *caller.scope_args()
        )
    return Figures(items=[Figure(**dict(r)) for r in rows], count=page_count(rows))
