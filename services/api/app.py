"""The HTTP API's app factory: one router per resource (`services/api/routes/`), one error
shape (`services/api/errors.py`), dependencies in `services/api/deps.py`."""

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from events.store import EventStore, StoreError
from services.api.errors import ApiError, api_error
from services.api.routes import (
    agreements,
    attainment,
    figures,
    health,
    ingest,
    jobcenters,
    rejections,
)
from services.pipeline.ingest import Ingestor

ROUTERS = (health, ingest, rejections, jobcenters, agreements, figures, attainment)


def create_app(store: EventStore, ingestor: Ingestor) -> FastAPI:
    """The API over `store`, ingesting through `ingestor`."""
    app = FastAPI(title="Zielsteuerung", version="1")
    app.state.store = store
    app.state.ingestor = ingestor
    app.add_exception_handler(StoreError, api_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, api_error)
    for module in ROUTERS:
        app.include_router(module.router)
    return app
