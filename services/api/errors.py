"""The API's one error answer: `{"error": {"code": ..., "message": ...}}` with a 4xx/5xx status,
for every failure: our own, invalid requests, unknown routes and methods, oversized bodies, an
unavailable store (503 `store_unavailable`: every failure to reach the database, whatever the
route), and anything unexpected (500, details only in the log)."""

import json

import asyncpg
import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.store import CONNECTION_LOST, StoreError

log = structlog.get_logger()


class ErrorBody(BaseModel):
    """What went wrong, for machines (`code`) and people (`message`)."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error answer."""

    error: ErrorBody


STORE_FAILURES: tuple[type[Exception], ...] = (
    StoreError, *CONNECTION_LOST, TimeoutError, asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError, asyncpg.InsufficientResourcesError,
)  # fmt: skip
"""What reaching the database raises when it is down, restarting, out of connections or slow to
hand one out (a pool's acquire timeout): the store's unavailability, not the request's fault."""
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
"""Codes of the errors the router itself answers."""


class ApiError(Exception):
    """An error answer: HTTP status, machine-readable code, human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(error: ApiError) -> JSONResponse:
    """The JSON answer for `error` (401s name the Bearer scheme)."""
    body = ErrorResponse(error=ErrorBody(code=error.code, message=error.message))
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(body.model_dump(), status_code=error.status, headers=headers)


async def api_error(request: Request, error: Exception) -> JSONResponse:
    """Any failure of a request as the one error shape."""
    if isinstance(error, STORE_FAILURES):
        log.warning("store unavailable for a request", path=request.url.path, error=repr(error))
        error = ApiError(503, "store_unavailable", "the event store is unavailable; try again")
    elif isinstance(error, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        error = ApiError(422, "invalid_request", problems)
    elif isinstance(error, HTTPException):
        code = HTTP_CODES.get(error.status_code, "http_error")
        error = ApiError(error.status_code, code, str(error.detail))
    elif not isinstance(error, ApiError):
        log.exception("request failed", path=request.url.path)
        error = ApiError(500, "internal_error", "the request failed; the log has the details")
    return error_response(error)


class RequestLimits:
    """ASGI middleware refusing what the API cannot take, before any route runs: a NUL
    character in the path or the query (422; PostgreSQL text cannot hold one), a request body
    over `max_bytes` (413), whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope["query_string"]
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await refuse(send, 422, "invalid_request", "a parameter contains a NUL character")
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await refuse(send, 413, "too_large", f"body over {self.max_bytes} bytes")
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await refuse(send, 413, "too_large", f"body over {self.max_bytes} bytes")


async def refuse(send: Send, status: int, code: str, message: str) -> None:
    """Answer `status` in the error shape, from a middleware (no route has answered)."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """A streamed body went over the limit."""
