"""Test data: events with unique streams and message ids, so tests never collide."""

import uuid
from datetime import UTC, datetime
from typing import Any

from events.store import NewEvent


def unique(prefix: str) -> str:
    """`prefix` plus a short random suffix."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def figure_event(
    stream_id: str | None = None, *, source: str = "ba-statistik", **data: Any
) -> NewEvent:
    """A MonthlyFigureReported event with plausible data, overridable per field."""
    payload = {
        "jobcenter_id": "06437",
        "indicator": "integrations",
        "period": "2022-07",
        "breakdown": "total",
        "value": 64,
        "status": "preliminary",
    } | data
    return NewEvent(
        stream_id=stream_id or unique("figures"),
        type="MonthlyFigureReported",
        source=source,
        message_id=unique("msg"),
        occurred_at=datetime(2022, 10, 27, 8, tzinfo=UTC),
        data=payload,
    )
