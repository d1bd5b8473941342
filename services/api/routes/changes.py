"""`GET /agreements/{id}/changes?from_position=&to_position=`: every change of a target's result
made by the events recorded after `from_position` up to `to_position` (default: the head), each
with its old and new values, replayed from the store (as `zs audit explain` does)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from projections.attainment.results import TargetChange
from services.api.auth import Reader
from services.api.deps import NOT_FOUND, ReadAtDep, StoreDep
from services.api.errors import ApiError, ErrorResponse
from services.api.routes.agreements import require_in_scope
from services.replay import explain, position_of

router = APIRouter()


class Changes(BaseModel):
    """The changes between two positions, in position order."""

    agreement_id: str
    from_position: int
    to_position: int
    items: list[TargetChange]
    count: int


@router.get(
    "/agreements/{agreement_id}/changes",
    responses={**NOT_FOUND, 422: {"model": ErrorResponse}},
)
async def changes(
    agreement_id: str,
    store: StoreDep,
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    from_position: Annotated[int, Query(ge=0)] = 0,
    to_position: Annotated[int | None, Query(ge=0)] = None,
) -> Changes:
    """Every change of a target's result after `from_position` up to `to_position`."""
    await require_in_scope(at, caller, agreement_id)
    end = await position_of(store, None, to_position)
    if from_position > end:
        raise ApiError(422, "invalid_request", f"from_position {from_position} lies after {end}")
    found = await explain(store, agreement_id, from_position, end)
    if found is None:
        raise ApiError(404, "not_found", f"agreement {agreement_id!r} unknown at {end}")
    response.headers["X-Position"] = str(end)
    return Changes(
        agreement_id=agreement_id, from_position=from_position, to_position=end,
        items=found, count=len(found),
    )  # fmt: skip
