"""The one calculation: attainment of every target of an agreement, from events alone.

Pure (no IO). Used by the live projector, the rebuild, the as-of replay and the audit CLI.
Input: the recorded events of the agreement's stream and of its jobcenter's figures stream
(years Y-1 and Y matter), in position order, up to the position the answer reflects.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from events.store import RecordedEvent

Status = Literal["no_data", "on_track", "at_risk", "achieved", "missed"]


class TargetResult(BaseModel):
    """One target's result to date (CONTRACT.md §3, attainment answer)."""

    model_config = ConfigDict(frozen=True)

    target_id: str
    indicator: str
    breakdown: str
    comparator: Literal["at_least", "at_most"]
    unit: str
    aggregation: str
    label: str | None = None
    budget_line: str | None = None
    agreed_value: Decimal
    target_value: Decimal
    actual: Decimal | None
    months_reported: int
    expected_to_date: Decimal | None
    forecast: Decimal | None
    attainment_pct: Decimal | None
    status: Status
    final: bool
    revised_after_close: bool


class AgreementAttainment(BaseModel):
    """All active targets of one agreement, as known at `position`."""

    model_config = ConfigDict(frozen=True)

    agreement_id: str
    jobcenter_id: str
    year: int
    position: int
    targets: list[TargetResult]


def attainment(agreement_id: str, events: Iterable[RecordedEvent]) -> AgreementAttainment | None:
    """The agreement's attainment from `events` (None if it was never concluded in them)."""
    raise NotImplementedError  # being written: see the brief of the attainment calculation
