"""`POST /ingest`: upstream envelopes over HTTP, settled by the same ingest as the broker's."""

import json
import uuid

from fastapi import APIRouter, Request
from pydantic import BaseModel

from events.envelope import RejectionCode
from events.rules import Sender
from services.api.auth import Source
from services.api.deps import IngestorDep
from services.api.errors import ApiError, ErrorResponse
from services.pipeline.channels import Delivery
from services.pipeline.ingest import IngestOutcome, Origin, Rejection

MAX_INGEST_BATCH = 1000
HTTP_CHANNEL = "http"
INGEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "one envelope, or a JSON array of up to 1,000",
        "content": {"application/json": {"schema": {}}},
    }
}

router = APIRouter()


class IngestResults(BaseModel):
    """One outcome per envelope, in the order sent."""

    items: list[IngestOutcome]
    count: int


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


@router.post("/ingest", responses={413: {"model": ErrorResponse}}, openapi_extra=INGEST_BODY)
async def ingest(request: Request, ingestor: IngestorDep, caller: Source) -> IngestResults:
    """Record envelopes like the broker ingest does; one outcome per envelope. Only as the
    caller's own source, and only the types and jobcenters its token names (where it does)."""
    sender = Sender(
        source=caller.source or caller.subject,
        types=frozenset(caller.types) if caller.types is not None else None,
        jobcenters=frozenset(caller.jobcenters) if caller.jobcenters is not None else None,
    )
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
    origin = Origin(f"token:{caller.subject}", HTTP_CHANNEL, sender)
    outcomes = await ingestor.ingest(deliveries, origin)
    return IngestResults(items=outcomes, count=len(outcomes))
