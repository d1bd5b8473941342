"""`GET /rejections`: rejected messages with code, reason and raw body."""

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from events.rejections import RejectionLog, StoredRejection, body_text
from services.api.auth import Auditor
from services.api.deps import Limit, Moment, Offset, StoreDep

router = APIRouter()


class RejectionRow(BaseModel):
    """A rejected message: the raw body as text, or base64 when it is not UTF-8."""

    source: str | None
    message_id: str | None
    code: str
    reason: str
    received_at: datetime
    body: str
    """The raw body (at most its first 64 KiB) as text, or base64 when it is not UTF-8."""
    body_encoding: str
    body_size: int
    """The whole body's size in bytes."""
    body_sha256: str
    """The whole body's sha256 (hex)."""


class Rejections(BaseModel):
    """A page of rejections."""

    items: list[RejectionRow]
    count: int


def rejection_row(rejection: StoredRejection) -> RejectionRow:
    """A stored rejection as an API row."""
    body, encoding = body_text(rejection.body)
    return RejectionRow(
        source=rejection.source, message_id=rejection.message_id, code=rejection.code,
        reason=rejection.reason, received_at=rejection.received_at, body=body,
        body_encoding=encoding, body_size=rejection.body_size or len(rejection.body),
        body_sha256=(rejection.body_sha256 or b"").hex(),
    )  # fmt: skip


@router.get("/rejections")
async def rejections(
    store: StoreDep,
    response: Response,
    caller: Auditor,
    source: str | None = None,
    since: Moment | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Rejections:
    """Rejected messages with code and reason, oldest first."""
    found, total = await RejectionLog(store.pool).page(source, since, limit, offset)
    response.headers["X-Position"] = str(await store.last_position())
    return Rejections(items=[rejection_row(r) for r in found], count=total)
