"""Operations: `GET /metrics` (Prometheus), `GET /ready` (readiness: 200 once the store answers
and the projections and the relay are within `ZS_HEALTH_MAX_LAG_EVENTS`, else 503) and
`GET /live` (liveness: 200 while the process serves)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.auth import Auditor
from services.api.errors import ErrorResponse
from services.api.metrics import observe
from services.api.status import probe

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request, caller: Auditor) -> Response:
    """Prometheus metrics: ingest outcomes, rejection codes, latencies, lags (for operators:
    an `admin` or `auditor` token)."""
    observe(await probe(request.app))
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


@router.get("/ready", responses={503: {"model": ErrorResponse}})
async def ready(request: Request) -> JSONResponse:
    """200 `{"status": "ready"}` when the service can answer up to date; else 503."""
    status = await probe(request.app)
    if status.reasons:
        body = ErrorResponse.model_validate(
            {"error": {"code": "not_ready", "message": "; ".join(status.reasons)}}
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse({"status": "ready", "position": status.position})


@router.get("/live")
async def live() -> dict[str, str]:
    """200 while the process serves HTTP."""
    return {"status": "live"}
