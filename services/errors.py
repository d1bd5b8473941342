"""The API's one error answer: `{"error": {"code": ..., "message": ...}}` with a 4xx/5xx status."""

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from events.store import StoreError


class ErrorBody(BaseModel):
    """What went wrong, for machines (`code`) and people (`message`)."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error answer."""

    error: ErrorBody


class ApiError(Exception):
    """An error answer: HTTP status, machine-readable code, human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def api_error(request: Request, error: Exception) -> JSONResponse:
    """`ApiError` (and a store failure, as 503) becomes a JSON error body."""
    if isinstance(error, StoreError):
        error = ApiError(503, "store_unavailable", str(error))
    assert isinstance(error, ApiError)
    body = ErrorResponse(error=ErrorBody(code=error.code, message=error.message))
    return JSONResponse(body.model_dump(), status_code=error.status)
