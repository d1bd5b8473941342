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


def envelope(type: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An upstream envelope with a unique message id."""
    return {
        "message_id": unique("msg"),
        "source": "test-upstream",
        "type": type,
        "schema_version": 1,
        "occurred_at": "2022-10-27T08:00:00Z",
        "data": data,
    } | fields


def agreement_setup(jobcenter_id: str, agreement_id: str, year: int = 2022) -> list[dict[str, Any]]:
    """Envelopes registering a jobcenter and concluding an agreement with one target."""
    return [
        envelope("JobcenterRegistered", {"jobcenter_id": jobcenter_id, "name": "Odenwaldkreis",
                                         "land": "DE-HE", "kind": "zkT"}),
        envelope("AgreementConcluded", {"agreement_id": agreement_id, "jobcenter_id": jobcenter_id,
                                        "year": year, "parties": ["Kreis", "HMSI"]}),
        envelope("TargetSet", {"agreement_id": agreement_id, "target_id": "integrations-total",
                               "indicator": "integrations", "breakdown": "total",
                               "comparator": "at_least", "value": 770, "unit": "count",
                               "aggregation": "sum"}),
        envelope("BudgetAllocated", {"agreement_id": agreement_id, "budget_line": "training",
                                     "amount_eur": 1289900}),
    ]  # fmt: skip


def figure_envelope(jobcenter_id: str, period: str = "2022-07", **data: Any) -> dict[str, Any]:
    """A MonthlyFigureReported envelope for `jobcenter_id`."""
    return envelope(
        "MonthlyFigureReported",
        {"jobcenter_id": jobcenter_id, "indicator": "integrations", "period": period,
         "breakdown": "total", "value": 64, "status": "preliminary"} | data,
    )  # fmt: skip
