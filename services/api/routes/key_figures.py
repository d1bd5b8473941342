"""`GET /key-figures`: § 48a key figures K1, K2, K3 computed from the base series."""

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from events.envelope import Number
from services.api.auth import Reader, scope_sql
from services.api.deps import ERRORS, Limit, Offset, ReadAtDep, Year, page_count

SELECT_KEY_FIGURES = f"""
SELECT k.jobcenter_id, k.code, k.breakdown, k.period, k.value, k.numerator, k.denominator,
       k.position, count(*) OVER () AS total
FROM views.key_figures AS k LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE ($1::text IS NULL OR k.jobcenter_id = $1) AND ($2::text IS NULL OR k.code = $2)
  AND ($3::text IS NULL OR k.breakdown = $3) AND ($4::text IS NULL OR k.period LIKE $4)
  AND {scope_sql("j.land", "k.jobcenter_id", 7)}
ORDER BY k.jobcenter_id, k.code, k.breakdown, k.period LIMIT $5 OFFSET $6
"""

router = APIRouter()


class KeyFigure(BaseModel):
    """One key figure of a jobcenter, breakdown and month: `value` (percent, 2 decimals) from
    `numerator` and `denominator` (K2: 12-month integrations and mean ELB stock; K1, K3: the
    month's amount and the same month's a year earlier)."""

    jobcenter_id: str
    code: str
    breakdown: str
    period: str
    value: Number
    numerator: Number
    denominator: Number
    position: int


class KeyFigures(BaseModel):
    """A page of key figures."""

    items: list[KeyFigure]
    count: int


@router.get("/key-figures", responses=ERRORS)
async def key_figures(
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    jobcenter_id: str | None = None,
    code: Literal["k1", "k2", "k3"] | None = None,
    breakdown: str | None = None,
    year: Year = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> KeyFigures:
    """Key figures K1, K2, K3 per jobcenter, breakdown and month, from the base series."""
    period = None if year is None else f"{year:04d}-%"
    async with at.snapshot(response, "key_figures") as connection:
        rows = await connection.fetch(
            SELECT_KEY_FIGURES, jobcenter_id, code, breakdown, period, limit, offset,
            *caller.scope_args(),
        )  # fmt: skip
    return KeyFigures(items=[KeyFigure(**dict(r)) for r in rows], count=page_count(rows))
