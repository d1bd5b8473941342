"""Framework agreements (*Rahmenvereinbarungen*): the list (`GET /frameworks`), one with its
members, their measures and reported progress (`GET /frameworks/{framework_id}`), and the
frameworks a jobcenter joined (`GET /jobcenters/{jobcenter_id}/frameworks`).

Scope: a framework is visible to a reader whose Land it belongs to or whose jobcenter joined
it; its members are listed, and counted in `member_count`, as far as they are in the reader's
scope."""

from datetime import date

from fastapi import APIRouter, Response
from pydantic import BaseModel

from services.api.auth import Principal, Reader, scope_sql
from services.api.deps import (
    NOT_FOUND,
    Connection,
    Limit,
    Offset,
    ReadAtDep,
    jobcenter_land,
    page_count,
)
from services.api.errors import ApiError


def framework_columns(first: int) -> str:
    """The columns of a framework `f`; its `member_count` counts only the members in the scope
    bound from `$first` on (as `members` lists them), so a reader learns nothing of the others."""
    return f"""
f.framework_id, f.land, f.title, f.parties, f.signed_on, f.join_deadline, f.goals, f.position,
(SELECT count(*) FROM views.framework_members AS c
   LEFT JOIN views.jobcenters AS cj USING (jobcenter_id)
 WHERE c.framework_id = f.framework_id AND {scope_sql("cj.land", "c.jobcenter_id", first)})
    AS member_count
"""


def framework_scope(first: int) -> str:
    """A framework `f` in the scope bound from `$first` on: its Land, or a member jobcenter."""
    federal, lands, jobcenters = (f"${n}" for n in range(first, first + 3))
    return (
        f"({federal}::boolean OR f.land = ANY({lands}::text[]) OR EXISTS ("
        f"SELECT 1 FROM views.framework_members AS s WHERE s.framework_id = f.framework_id"
        f" AND s.jobcenter_id = ANY({jobcenters}::text[])))"
    )


SELECT_FRAMEWORKS = f"""
SELECT {framework_columns(4)}, count(*) OVER () AS total
FROM views.frameworks AS f
WHERE ($1::text IS NULL OR f.land = $1) AND {framework_scope(4)}
ORDER BY f.land, f.framework_id LIMIT $2 OFFSET $3
"""
SELECT_FRAMEWORK = f"""
SELECT {framework_columns(2)} FROM views.frameworks AS f
WHERE f.framework_id = $1 AND {framework_scope(2)}
"""
SELECT_MEMBERS = f"""
SELECT m.framework_id, m.jobcenter_id, j.name, m.joined_on, m.approved_by, m.approved_on,
       m.measures, m.position
FROM views.framework_members AS m LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE m.framework_id = $1 AND {scope_sql("j.land", "m.jobcenter_id", 2)}
ORDER BY m.position
"""
SELECT_REPORTS = """
SELECT jobcenter_id, measure, text, period, position
FROM views.framework_reports WHERE framework_id = $1 ORDER BY position
"""
SELECT_JOINED = f"""
SELECT {framework_columns(4)}, m.joined_on, m.approved_by, m.approved_on, m.measures,
       m.position AS joined_position, count(*) OVER () AS total
FROM views.framework_members AS m JOIN views.frameworks AS f USING (framework_id)
WHERE m.jobcenter_id = $1
ORDER BY m.joined_on, f.framework_id LIMIT $2 OFFSET $3
"""

router = APIRouter()


class Framework(BaseModel):
    """A framework agreement of a Land with several parties."""

    framework_id: str
    land: str
    title: str
    parties: list[str]
    signed_on: date | None
    join_deadline: date | None
    goals: list[str]
    member_count: int
    position: int


class Frameworks(BaseModel):
    """A page of framework agreements."""

    items: list[Framework]
    count: int


class MeasureReport(BaseModel):
    """Progress a member reported on one of its measures."""

    measure: str
    text: str
    period: str | None
    position: int


class Member(BaseModel):
    """A jobcenter that joined: when, approved by whom, its measures and their progress."""

    jobcenter_id: str
    name: str | None
    joined_on: date
    approved_by: list[str]
    approved_on: date | None
    measures: list[str]
    reports: list[MeasureReport]
    position: int


class FrameworkDetail(Framework):
    """A framework agreement with its members (those in the caller's scope)."""

    members: list[Member]


class Membership(Framework):
    """A framework a jobcenter joined, with its own joining and measures."""

    joined_on: date
    approved_by: list[str]
    approved_on: date | None
    measures: list[str]
    joined_position: int


class Memberships(BaseModel):
    """A page of the frameworks a jobcenter joined."""

    items: list[Membership]
    count: int


@router.get("/frameworks", responses=NOT_FOUND)
async def frameworks(
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    land: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Frameworks:
    """Framework agreements (of the caller's Land or joined by its jobcenters), by Land."""
    async with at.snapshot(response, "frameworks") as connection:
        rows = await connection.fetch(SELECT_FRAMEWORKS, land, limit, offset, *caller.scope_args())
    return Frameworks(items=[Framework(**dict(r)) for r in rows], count=page_count(rows))


@router.get("/frameworks/{framework_id}", responses=NOT_FOUND)
async def framework(
    framework_id: str, at: ReadAtDep, response: Response, caller: Reader
) -> FrameworkDetail:
    """The framework agreement with its members, their measures and reported progress."""
    async with at.snapshot(response, "frameworks") as connection:
        row = await connection.fetchrow(SELECT_FRAMEWORK, framework_id, *caller.scope_args())
        if row is None:
            raise ApiError(404, "not_found", f"no framework agreement {framework_id!r}")
        members = await _members(connection, framework_id, caller)
    return FrameworkDetail.model_validate(dict(row) | {"members": members})


async def _members(connection: Connection, framework_id: str, caller: Principal) -> list[Member]:
    reports: dict[str, list[MeasureReport]] = {}
    for r in await connection.fetch(SELECT_REPORTS, framework_id):
        reports.setdefault(r["jobcenter_id"], []).append(MeasureReport(**dict(r)))
    rows = await connection.fetch(SELECT_MEMBERS, framework_id, *caller.scope_args())
    return [
        Member.model_validate(dict(r) | {"reports": reports.get(r["jobcenter_id"], [])})
        for r in rows
    ]


@router.get("/jobcenters/{jobcenter_id}/frameworks", responses=NOT_FOUND)
async def jobcenter_frameworks(
    jobcenter_id: str,
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Memberships:
    """The framework agreements the jobcenter joined, with its measures; 404 for a jobcenter
    that is unknown or outside the caller's scope."""
    async with at.snapshot(response, "frameworks") as connection:
        land = await jobcenter_land(connection, jobcenter_id)
        if land is None or not caller.sees(land, jobcenter_id):
            raise ApiError(404, "not_found", f"no jobcenter {jobcenter_id!r}")
        rows = await connection.fetch(
            SELECT_JOINED, jobcenter_id, limit, offset, *caller.scope_args()
        )
    return Memberships(items=[Membership(**dict(r)) for r in rows], count=page_count(rows))
