"""`GET /health`: liveness and progress."""

from fastapi import APIRouter, Response
from pydantic import BaseModel

from projections.checkpoints import Checkpoints
from services.api.auth import AnyRole
from services.api.deps import StoreDep
from services.api.errors import ErrorResponse

router = APIRouter()


class Health(BaseModel):
    """Liveness and progress: the last recorded position and each projection's checkpoint."""

    status: str
    position: int
    projections: dict[str, int]


@router.get("/health", responses={503: {"model": ErrorResponse}})
async def health(store: StoreDep, response: Response, caller: AnyRole) -> Health:
    """Last recorded position and every projection's checkpoint."""
    position = await store.last_position()
    response.headers["X-Position"] = str(position)
    return Health(
        status="ok", position=position, projections=await Checkpoints(store.pool).positions()
    )


class Liveness(BaseModel):
    """The process answers."""

    status: str


@router.get("/live")
async def live() -> Liveness:
    """Whether the process answers (no token needed; tells nothing else)."""
    return Liveness(status="ok")
