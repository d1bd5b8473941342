"""The HTTP API (FastAPI): health, ingest, rejections; the read models join as they are built."""

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from events.envelope import RejectionCode
from events.store import EventStore, StoreError
from services.attainment_routes import router as attainment_router
from services.deliveries import Delivery
from services.errors import ApiError, ErrorResponse, api_error
from services.ingest import Ingestor, Outcome, Rejection
from services.queries import router as query_router

SELECT_CHECKPOINTS = "SELECT projection, position FROM service.checkpoints ORDER BY projection"
SELECT_REJECTIONS = """
SELECT source, message_id, code, reason, received_at, body, count(*) OVER () AS total
FROM service.rejections
WHERE ($1::text IS NULL OR source = $1) AND ($2::timestamptz IS NULL OR received_at >= $2)
ORDER BY id LIMIT $3 OFFSET $4
"""
MAX_INGEST_BATCH = 1000
INGEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "one envelope (CONTRACT.md §1), or a JSON array of up to 1,000",
        "content": {"application/json": {"schema": {}}},
    }
}


class Health(BaseModel):
    """Liveness and progress: the last recorded position and each projection's checkpoint."""

    status: str
    position: int
    projections: dict[str, int]


class IngestResults(BaseModel):
    """One outcome per envelope, in the order sent."""

    items: list[Outcome]
    count: int


class RejectionRow(BaseModel):
    """A rejected message: the raw body as text, or base64 when it is not UTF-8."""

    source: str | None
    message_id: str | None
    code: str
    reason: str
    received_at: datetime
    body: str
    body_encoding: str


class Rejections(BaseModel):
    """A page of rejections."""

    items: list[RejectionRow]
    count: int


def rejection_row(row: Any) -> RejectionRow:
    """A stored rejection as an API row."""
    payload = Rejection(Delivery(bytes(row["body"]), ""), row["code"], row["reason"]).payload(
        row["received_at"]
    )
    return RejectionRow(
        source=row["source"], message_id=row["message_id"], code=row["code"],
        reason=row["reason"], received_at=row["received_at"], body=payload["body"],
        body_encoding=payload["body_encoding"],
    )  # fmt: skip


def split_request(body: bytes) -> list[bytes] | None:
    """The envelopes of an ingest request: each element of a JSON array, else the whole body
    as one; None when the array holds more than `MAX_INGEST_BATCH`."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return [body]
    if not isinstance(parsed, list):
        return [body]
    if len(parsed) > MAX_INGEST_BATCH:
        return None
    return [json.dumps(item, ensure_ascii=False).encode() for item in parsed]


def get_store(request: Request) -> EventStore:
    """The store the app was created with."""
    store: EventStore = request.app.state.store
    return store


StoreDep = Annotated[EventStore, Depends(get_store)]


def create_app(store: EventStore, ingestor: Ingestor) -> FastAPI:
    """The API over `store`, ingesting through `ingestor`."""
    app = FastAPI(title="Zielsteuerung", version="1")
    app.state.store = store
    app.add_exception_handler(StoreError, api_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, api_error)
    app.include_router(query_router)
    app.include_router(attainment_router)

    @app.post("/ingest", responses={413: {"model": ErrorResponse}}, openapi_extra=INGEST_BODY)
    async def ingest(request: Request) -> IngestResults:
        """Record envelopes like the broker ingest does; one outcome per envelope."""
        raw = await request.body()
        bodies = split_request(raw)
        if bodies is None:
            too_many = Rejection(
                Delivery(raw, f"http-{uuid.uuid4()}"), RejectionCode.TOO_LARGE,
                f"more than {MAX_INGEST_BATCH} envelopes in one request",
            )  # fmt: skip
            await ingestor.reject([too_many])
            raise ApiError(413, "too_large", too_many.reason)
        deliveries = [Delivery(body, f"http-{uuid.uuid4()}") for body in bodies]
        outcomes = await ingestor.ingest(deliveries)
        return IngestResults(items=outcomes, count=len(outcomes))

    @app.get("/rejections")
    async def rejections(
        store: StoreDep,
        response: Response,
        source: str | None = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Rejections:
        """Rejected messages with code and reason, oldest first."""
        rows = await store.pool.fetch(SELECT_REJECTIONS, source, since, limit, offset)
        response.headers["X-Position"] = str(await store.last_position())
        return Rejections(
            items=[rejection_row(row) for row in rows], count=rows[0]["total"] if rows else 0
        )

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
