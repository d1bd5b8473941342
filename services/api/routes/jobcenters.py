"""`GET /jobcenters`: the registered jobcenters."""

from fastapi import APIRouter, Response
from pydantic import BaseModel

from services.api.auth import Reader, scope_sql
from services.api.deps import ERRORS, Limit, Offset, ReadAtDep, page_count

SELECT_JOBCENTERS = f"""
SELECT jobcenter_id, name, land, kind, district_key, position, count(*) OVER () AS total
FROM views.jobcenters WHERE {scope_sql("land", "jobcenter_id", 3)}
ORDER BY jobcenter_id LIMIT $1 OFFSET $2
"""

router = APIRouter()


class Jobcenter(BaseModel):
    """A registered jobcenter."""

    jobcenter_id: str
    name: str
    land: str
    kind: str
    district_key: str | None
    """Its district key (*Kreisschlüssel*), an attribute two jobcenters may share."""
    position: int


class Jobcenters(BaseModel):
    """A page of jobcenters."""

    items: list[Jobcenter]
    count: int


@router.get("/jobcenters", responses=ERRORS)
async def jobcenters(
    at: ReadAtDep, response: Response, caller: Reader, limit: Limit = 100, offset: Offset = 0
) -> Jobcenters:
    """Registered jobcenters (those in the caller's scope), by id."""
    async with at.snapshot(response, "agreements") as connection:
        rows = await connection.fetch(SELECT_JOBCENTERS, limit, offset, *caller.scope_args())
    return Jobcenters(items=[Jobcenter(**dict(r)) for r in rows], count=page_count(rows))
