"""The HTTP API's app factory: one router per resource (`services/api/routes/`), one error
shape (`services/api/errors.py`), dependencies in `services/api/deps.py`."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException

from events.store import EventStore
from infra.broker import Transport
from infra.settings import Settings
from infra.tokens import TokenVerifier
from services.api.errors import STORE_FAILURES, ApiError, ErrorResponse, RequestLimits, api_error
from services.api.metrics import TimingMiddleware, exposed_metrics
from services.api.openapi import openapi_with_error_shape
from services.api.routes import (
    agreements,
    attainment,
    changes,
    docs,
    figures,
    frameworks,
    health,
    ingest,
    jobcenters,
    key_figures,
    operations,
    rejections,
    reports,
    vintages,
)
from services.api.status import looks
from services.pipeline.ingest import Ingestor

ROUTERS = (
    health, ingest, rejections, jobcenters, agreements, figures, attainment, changes,
    vintages, frameworks, key_figures, reports, operations, docs,
)  # fmt: skip


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's own OpenTelemetry bridge, off: the API's metrics are Prometheus's
(`services/api/metrics.py`), and asking whether a provider is configured cost every request."""
ERROR_ANSWERS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (401, "no valid bearer token"), (403, "the token's role may not do this"),
        (413, "request body over the limit"), (422, "invalid request parameters"),
        (503, "store unavailable or not caught up"),
    )
}  # fmt: skip


def create_app(
    store: EventStore,
    ingestor: Ingestor,
    settings: Settings,
    verifier: TokenVerifier,
    *,
    transport: Transport | None = None,
    broker_url: str | None = None,
    shared_metrics: Path | None = None,
) -> FastAPI:
    """The API over `store`, ingesting through `ingestor`, trusting the tokens `verifier`
    accepts; `transport` (if given) is checked by `/health` and `/ready`, `broker_url` names the
    server in `/asyncapi.json`; `/metrics` shows the metrics every process keeps in
    `shared_metrics` (if given; else this process's own). Built by the composition root,
    `services/bootstrap.py`."""
    app = FastAPI(
        title="Zielsteuerung", version="1", docs_url=None, redoc_url=None,
        responses=ERROR_ANSWERS, telemetry=NO_TELEMETRY,
    )  # fmt: skip
    app.state.store = store
    app.state.ingestor = ingestor
    app.state.verifier = verifier
    app.state.broker_url = broker_url
    app.state.looks = looks(store, transport, settings.health_max_lag_events)
    app.state.metrics = exposed_metrics(shared_metrics)
    for error in (*STORE_FAILURES, ApiError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(error, api_error)
    app.add_middleware(TimingMiddleware)
    app.add_middleware(RequestLimits, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_headers=["Authorization"],
            allow_methods=["GET", "POST"],
        )  # fmt: skip
    for module in ROUTERS:
        app.include_router(module.router)
    docs.mount_static(app)
    app.openapi = openapi_with_error_shape(app)  # type: ignore[method-assign]
    return app
