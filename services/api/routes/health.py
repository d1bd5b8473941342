"""`GET /health`: liveness and progress (200 while the process lives; `degraded` with its
reasons when the database or broker is unreachable or a projection lags too far).

A reader scoped to a Land or jobcenters sees `status` and `position` alone (the log's head, the
number `X-Position` carries on every read): no projection checkpoints and no reasons, which tell
how far each part has worked through every Land's events."""

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from services.api.auth import AnyRole
from services.api.status import as_health, probe

router = APIRouter()


class Health(BaseModel):
    """Liveness and progress: the last recorded position and each projection's checkpoint;
    `reasons` only when `status` is `degraded`."""

    status: str
    position: int | None
    projections: dict[str, int]
    reasons: list[str] | None = None


@router.get("/health", response_model_exclude_unset=True)
async def health(request: Request, response: Response, caller: AnyRole) -> Health:
    """Last recorded position and every projection's checkpoint; `degraded` with reasons."""
    status = await probe(request.app)
    if status.position is not None:
        response.headers["X-Position"] = str(status.position)
    answer = as_health(status)
    if not caller.federal:
        answer = {"status": answer["status"], "position": status.position, "projections": {}}
    return Health.model_validate(answer)
