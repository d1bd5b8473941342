"""`GET /key-figures`: § 48a key figures computed from the base series, per jobcenter, and
summed per Land or for Germany (`?level=`); with `?compare=type` each jobcenter's row carries
its comparison type's statistics and its rank there."""

from datetime import datetime
from typing import Literal

import asyncpg
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from events.envelope import Number
from events.indicators import Better
from events.numbers import Presented
from projections.key_figures.calculation import inputs, value_of
from projections.key_figures.comparison import better_of
from services.api.auth import Reader, scope_sql
from services.api.deps import ERRORS, Connection, Limit, Offset, ReadAtDep, Year, page_count
from services.api.errors import ApiError

Level = Literal["jobcenter", "land", "germany"]
Compare = Literal["type"]
FILTERS = """
($1::text IS NULL OR k.code = $1) AND ($2::text IS NULL OR k.breakdown = $2)
AND ($3::text IS NULL OR k.period BETWEEN $3 AND $4) AND ($5::text IS NULL OR j.land = $5)
"""
SELECT_KEY_FIGURES = f"""
SELECT 'jobcenter' AS level, j.land, k.jobcenter_id, k.code, k.breakdown, k.period, k.value,
       k.numerator, k.denominator, 1 AS jobcenters, k.position, count(*) OVER () AS total
FROM views.key_figures AS k LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE {FILTERS} AND ($6::text IS NULL OR k.jobcenter_id = $6)
  AND {scope_sql("j.land", "k.jobcenter_id", 9)}
ORDER BY k.jobcenter_id, k.code, k.breakdown, k.period LIMIT $7 OFFSET $8
"""
SELECT_AGGREGATES = f"""
SELECT $6::text AS level, CASE WHEN $6 = 'land' THEN j.land END AS land, k.code, k.breakdown,
       k.period, sum(k.numerator) AS numerator, sum(k.denominator) AS denominator,
       count(*) AS jobcenters, max(k.position) AS position, count(*) OVER () AS total
FROM views.key_figures AS k JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE {FILTERS} AND ($9::boolean OR ($6 = 'land' AND j.land = ANY($10::text[])))
GROUP BY 2, k.code, k.breakdown, k.period
ORDER BY 2, k.code, k.breakdown, k.period LIMIT $7 OFFSET $8
"""
"""Sums over the jobcenters that have the key figure that month; a Land's for federal readers
and the readers of that Land, Germany's for federal readers only."""
SELECT_SOURCES = """
SELECT s.jobcenter_id, s.breakdown, s.indicator, s.period, s.value, s.occurred_at, s.position
FROM views.key_figure_series AS s
JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w(jobcenter_id, breakdown,
                                                                 indicator, period)
    USING (jobcenter_id, breakdown, indicator, period)
"""
SELECT_COMPARISONS = """
SELECT w.jobcenter_id, w.code, w.breakdown, w.period, c.type_code, c.type_name, c.typology,
       c.typology_version, s.jobcenters, s.minimum, s.lower_quartile, s.median,
       s.upper_quartile, s.maximum, r.rank
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w(jobcenter_id, code, breakdown,
                                                                 period)
JOIN views.comparison_types AS c
    ON c.jobcenter_id = w.jobcenter_id AND c.year = substr(w.period, 1, 4)::integer
LEFT JOIN views.comparison_type_statistics AS s
    ON (s.typology, s.typology_version, s.type_code, s.code, s.breakdown, s.period)
     = (c.typology, c.typology_version, c.type_code, w.code, w.breakdown, w.period)
LEFT JOIN views.comparison_type_ranks AS r
    ON (r.jobcenter_id, r.code, r.breakdown, r.period)
     = (w.jobcenter_id, w.code, w.breakdown, w.period)
"""
"""The type each jobcenter row's jobcenter has that year, with the type's statistics computed
over all its members (also those outside the caller's scope: aggregates, docs/domain.md
section 11) and the row's rank."""

router = APIRouter()

Measure = Presented
"""A numerator or denominator, computed exactly, written to 2 decimals: a mean (K2's ELB stock
over twelve months) has more digits than an answer needs (sums of counts stay exact)."""


class Source(BaseModel):
    """One month of a base series a key figure was computed from: the vintage in force."""

    indicator: str
    period: str
    value: Number
    occurred_at: datetime
    position: int


class TypeComparison(BaseModel):
    """A jobcenter's key figure against its comparison type's that month: the type (of the
    jobcenter's assignment for the year), the distribution over the `jobcenters` members that
    have the key figure (quartiles interpolated linearly, docs/domain.md section 11), and the
    jobcenter's `rank` among them (1 = best, by `better`; null where the key figure has no
    direction)."""

    type_code: str
    type_name: str
    typology: str
    typology_version: str
    jobcenters: int
    minimum: Presented
    lower_quartile: Presented
    median: Presented
    upper_quartile: Presented
    maximum: Presented
    rank: int | None
    better: Better | None


class KeyFigure(BaseModel):
    """One key figure of a jobcenter (or summed over a Land's or Germany's), breakdown and
    month: `value` (percent, 2 decimals) from `numerator` and `denominator` (K2: 12-month
    integrations and mean ELB stock; K1, K1E2, K3: the month's amount or stock and the same
    month's a year earlier). An aggregate sums the numerators and denominators of its
    `jobcenters` members (those with the key figure that month)."""

    level: Level = "jobcenter"
    land: str | None
    jobcenter_id: str | None
    code: str
    breakdown: str
    period: str
    value: Number
    numerator: Measure
    denominator: Measure
    jobcenters: int
    position: int
    sources: list[Source]
    comparison: TypeComparison | None = None
    """(1.4) With `compare=type`: the jobcenter's comparison type that month; null without
    `compare`, for aggregates, and for a jobcenter with no type assigned for the year."""


class KeyFigures(BaseModel):
    """A page of key figures."""

    items: list[KeyFigure]
    count: int


@router.get("/key-figures", responses=ERRORS)
async def key_figures(
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    level: Level = "jobcenter",
    jobcenter_id: str | None = None,
    land: str | None = None,
    code: Literal["k1", "k1e2", "k2", "k3"] | None = None,
    breakdown: str | None = None,
    year: Year = None,
    period: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
    compare: Compare | None = None,
    sources: bool = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> KeyFigures:
    """Key figures K1, K1E2, K2, K3 from the base series: per jobcenter, breakdown and month
    (with the base months each came from; with `compare=type`, against its comparison type),
    or summed per Land or for Germany. `sources=false` leaves each row's base months out (a
    table of many jobcenters needs only the values)."""
    if level != "jobcenter" and jobcenter_id is not None:
        raise ApiError(422, "invalid_request", "jobcenter_id filters level=jobcenter only")
    if level != "jobcenter" and compare is not None:
        raise ApiError(422, "invalid_request", "compare=type compares jobcenters: level=jobcenter")
    if level == "germany" and land is not None:
        raise ApiError(422, "invalid_request", "land filters level=jobcenter or level=land")
    first, last = (period, period) if period else (None, None)
    if year is not None and not period:
        first, last = f"{year:04d}-01", f"{year:04d}-12"
    filters: tuple[object, ...] = (code, breakdown, first, last, land)
    async with at.snapshot(response, "key_figures") as connection:
        federal, lands, jobcenters = caller.scope_args()
        args: tuple[object, ...]
        if level == "jobcenter":
            query, args = SELECT_KEY_FIGURES, (*filters, jobcenter_id, limit, offset, federal)
            args += (lands, jobcenters)
        else:
            query, args = SELECT_AGGREGATES, (*filters, level, limit, offset, federal, lands)
        rows = await connection.fetch(query, *args)
        months = await _sources(connection, rows) if level == "jobcenter" and sources else {}
        comparisons = await _comparisons(connection, rows) if compare == "type" else {}
    items = []
    for r in rows:
        row = dict(r)
        if level != "jobcenter":
            row["value"] = value_of(row["code"], row["numerator"], row["denominator"])
            row["jobcenter_id"] = None
        key = _key(row)
        items.append(KeyFigure(**row, sources=months.get(key, []), comparison=comparisons.get(key)))
    return KeyFigures(items=items, count=page_count(rows))


def _key(row: dict[str, object]) -> tuple[object, ...]:
    return row["jobcenter_id"], row["breakdown"], row["code"], row["period"]


async def _comparisons(
    connection: Connection, rows: list[asyncpg.Record]
) -> dict[tuple[object, ...], TypeComparison]:
    """Each jobcenter row's comparison with its type, where the jobcenter has one that year."""
    if not rows:
        return {}
    columns = [[r[name] for r in rows] for name in ("jobcenter_id", "code", "breakdown", "period")]
    found: dict[tuple[object, ...], TypeComparison] = {}
    for r in await connection.fetch(SELECT_COMPARISONS, *columns):
        if r["jobcenters"] is None:  # assigned, but the type has no statistics yet
            continue
        row = dict(r)
        key = (row.pop("jobcenter_id"), row["breakdown"], row.pop("code"), row["period"])
        del row["breakdown"], row["period"]
        found[key] = TypeComparison(**row, better=better_of(str(key[2])))
    return found


async def _sources(
    connection: Connection, rows: list[asyncpg.Record]
) -> dict[tuple[object, ...], list[Source]]:
    """Each jobcenter row's base months, in the order `inputs` names them."""
    wanted = [
        (r["jobcenter_id"], r["breakdown"], indicator, month, (r["code"], r["period"]))
        for r in rows
        for indicator, month in inputs(r["code"], r["period"])
    ]
    if not wanted:
        return {}
    columns = [[w[n] for w in wanted] for n in range(4)]
    found = {
        (r["jobcenter_id"], r["breakdown"], r["indicator"], r["period"]): Source(**dict(r))
        for r in await connection.fetch(SELECT_SOURCES, *columns)
    }
    sources: dict[tuple[object, ...], list[Source]] = {}
    for jobcenter_id, breakdown, indicator, month, (code, period) in wanted:
        source = found.get((jobcenter_id, breakdown, indicator, month))
        if source is not None:
            sources.setdefault((jobcenter_id, breakdown, code, period), []).append(source)
    return sources
