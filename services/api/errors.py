"""The API's one error answer: `{"error": {"code": ..., "message": ...}}` with a 4xx/5xx status."""

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from events.store import StoreError


class ErrorBody(BaseModel):
    """What went wrong, for machines (`code`) and people (`message`)."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error answer."""

    error: ErrorBody


HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
"""Codes of the errors the router itself answers."""


class ApiError(Exception):
    """An error answer: HTTP status, machine-readable code, human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def api_error(request: Request, error: Exception) -> JSONResponse:
    """`ApiError`, a store failure (503) or an invalid request (422) as a JSON error body."""
    if isinstance(error, StoreError):
        error = ApiError(503, "store_unavailable", str(error))
    if isinstance(error, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        error = ApiError(422, "invalid_request", problems)
    if isinstance(error, HTTPException):  # unknown path, wrong method
        code = HTTP_CODES.get(error.status_code, "http_error")
        error = ApiError(error.status_code, code, str(error.detail))
    assert isinstance(error, ApiError)
    body = ErrorResponse(error=ErrorBody(code=error.code, message=error.message))
    return JSONResponse(body.model_dump(), status_code=error.status)
