"""The HTTP query API (FastAPI): health now; the read models join as they are built."""

from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from events.store import EventStore, StoreError

SELECT_CHECKPOINTS = "SELECT projection, position FROM service.checkpoints ORDER BY projection"


class Health(BaseModel):
    """Liveness and progress: the last recorded position and each projection's checkpoint."""

    status: str
    position: int
    projections: dict[str, int]


class ErrorBody(BaseModel):
    """What went wrong, for machines (`code`) and people (`message`)."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error answer: `{"error": {"code": ..., "message": ...}}`."""

    error: ErrorBody


def get_store(request: Request) -> EventStore:
    """The store the app was created with."""
    store: EventStore = request.app.state.store
    return store


StoreDep = Annotated[EventStore, Depends(get_store)]


async def store_unavailable(request: Request, error: Exception) -> JSONResponse:
    """A store failure becomes a 503 with a JSON error body."""
    body = ErrorResponse(error=ErrorBody(code="store_unavailable", message=str(error)))
    return JSONResponse(body.model_dump(), status_code=503)


def create_app(store: EventStore) -> FastAPI:
    """The API over `store`."""
    app = FastAPI(title="Zielsteuerung", version="1")
    app.state.store = store
    app.add_exception_handler(StoreError, store_unavailable)

    @app.get("/health", responses={503: {"model": ErrorResponse}})
    async def health(store: StoreDep, response: Response) -> Health:
        """Last recorded position and every projection's checkpoint."""
        position = await store.last_position()
        rows = await store.pool.fetch(SELECT_CHECKPOINTS)
        response.headers["X-Position"] = str(position)
        return Health(
            status="ok",
            position=position,
            projections={row["projection"]: row["position"] for row in rows},
        )

    return app
