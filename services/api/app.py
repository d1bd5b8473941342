"""The HTTP API's app factory: one router per resource (`services/api/routes/`), one error
shape (`services/api/errors.py`), dependencies in `services/api/deps.py`."""

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException

from events.store import EventStore, StoreError
from infra.settings import Settings
from infra.tokens import TokenVerifier
from services.api.errors import ApiError, BodyLimit, ErrorResponse, api_error
from services.api.routes import (
    agreements,
    attainment,
    figures,
    frameworks,
    health,
    ingest,
    jobcenters,
    key_figures,
    rejections,
    vintages,
)
from services.pipeline.ingest import Ingestor

ROUTERS = (
    health, ingest, rejections, jobcenters, agreements, figures, attainment, vintages, frameworks,
    key_figures,
)  # fmt: skip


ERROR_ANSWERS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (401, "no valid bearer token"), (403, "the token's role may not do this"),
        (422, "invalid request parameters"), (503, "store unavailable or not caught up"),
    )
}  # fmt: skip


def create_app(
    store: EventStore, ingestor: Ingestor, settings: Settings, verifier: TokenVerifier
) -> FastAPI:
    """The API over `store`, ingesting through `ingestor`, trusting tokens `verifier` accepts."""
    app = FastAPI(title="Zielsteuerung", version="1", responses=ERROR_ANSWERS)
    app.state.store = store
    app.state.ingestor = ingestor
    app.state.verifier = verifier
    for error in (StoreError, ApiError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(error, api_error)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_headers=["Authorization"],
            allow_methods=["GET", "POST"],
        )  # fmt: skip
    for module in ROUTERS:
        app.include_router(module.router)
    return app
