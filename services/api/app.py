"""The HTTP API's app factory: one router per resource (`services/api/routes/`), one error
shape (`services/api/errors.py`), dependencies in `services/api/deps.py`."""

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from events.store import EventStore, StoreError
from infra.broker import Transport
from services.api.errors import ApiError, api_error
from services.api.metrics import TimingMiddleware
from services.api.openapi import openapi_with_error_shape
from services.api.routes import (
    agreements,
    attainment,
    changes,
    docs,
    figures,
    health,
    ingest,
    jobcenters,
    operations,
    rejections,
)
from services.api.status import DEFAULT_MAX_LAG_EVENTS
from services.pipeline.ingest import Ingestor

ROUTERS = (
    health, ingest, rejections, jobcenters, agreements, figures, attainment, changes,
    operations, docs,
)  # fmt: skip


def create_app(
    store: EventStore,
    ingestor: Ingestor,
    *,
    transport: Transport | None = None,
    broker_url: str | None = None,
    max_lag_events: int = DEFAULT_MAX_LAG_EVENTS,
) -> FastAPI:
    """The API over `store`, ingesting through `ingestor`; `transport` (if given) is checked by
    `/health` and `/ready`, `broker_url` names the server in `/asyncapi.json`."""
    app = FastAPI(title="Zielsteuerung", version="1", docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.ingestor = ingestor
    app.state.transport = transport
    app.state.broker_url = broker_url
    app.state.max_lag_events = max_lag_events
    app.add_exception_handler(StoreError, api_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, api_error)
    app.add_exception_handler(HTTPException, api_error)
    app.add_middleware(TimingMiddleware)
    for module in ROUTERS:
        app.include_router(module.router)
    docs.mount_static(app)
    app.openapi = openapi_with_error_shape(app)  # type: ignore[method-assign]
    return app
