"""`POST /ingest`: upstream envelopes over HTTP, settled by the same ingest as the broker's."""

import json
import re
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


WHITESPACE = re.compile(r"[ \t\n\r]*")
ELEMENTS = json.JSONDecoder(parse_float=len, parse_int=len, parse_constant=len)
"""Finds where each element of an array ends; numbers of any size read as their length."""


def after_space(text: str, at: int) -> int:
    """The index of the first character at or after `at` that is not JSON whitespace."""
    found = WHITESPACE.match(text, at)
    return found.end() if found else at


def split_request(body: bytes) -> list[bytes] | None:
    """The envelopes of an ingest request: the exact bytes of each element of a JSON array,
    else the whole body as one (also a body that is no readable array: the ingest rejects it
    with its reason); None when the array holds more than `MAX_INGEST_BATCH`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [body]
    start = after_space(text, 0)
    if not text.startswith("[", start):
        return [body]
    try:
        elements = array_elements(text, start + 1)
    except (ValueError, RecursionError):
        return [body]
    return None if len(elements) > MAX_INGEST_BATCH else [e.encode() for e in elements]


def array_elements(text: str, at: int) -> list[str]:
    """The texts of the elements of the array opened just before `at`, which must be the whole
    rest of `text`; stops after `MAX_INGEST_BATCH` + 1. Raises ValueError (or RecursionError)
    where `text` is not such an array."""
    elements = list[str]()
    at = after_space(text, at)
    if text.startswith("]", at):
        closed = at + 1
    else:
        while True:
            _, end = ELEMENTS.raw_decode(text, at)
            elements.append(text[at:end])
            if len(elements) > MAX_INGEST_BATCH:
                return elements
            at = after_space(text, end)
            if text.startswith(",", at):
                at = after_space(text, at + 1)
            elif text.startswith("]", at):
                closed = at + 1
                break
            else:
                raise ValueError(f"expected ',' or ']' at {at}")
    if after_space(text, closed) != len(text):
        raise ValueError("text after the array")
    return elements


@router.post("/ingest", responses={413: {"model": ErrorResponse}}, openapi_extra=INGEST_BODY)
async def ingest(request: Request, ingestor: IngestorDep, caller: Source) -> IngestResults:
    """Record envelopes like the broker ingest does; one outcome per envelope. Only as the
    caller's own source, and only the types and jobcenters its token names (where it does)."""
    assert caller.source is not None  # `infra.tokens.Claims` refuses a source token without one
    sender = Sender(
        source=caller.source,
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
