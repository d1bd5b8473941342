"""The attainment answers: what the query API, the as-of replay and `zs audit` return
(docs/contract.md, the attainment answer)."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from events.envelope import json_number

Presented = Annotated[Decimal, PlainSerializer(json_number, when_used="json")]
"""A Decimal computed exactly, presented in JSON as a number (docs/contract.md, query API)."""

Comparator = Literal["at_least", "at_most"]
Status = Literal["no_data", "on_track", "at_risk", "achieved", "missed"]


class TargetResult(BaseModel):
    """One target's result to date (docs/contract.md, the attainment answer)."""

    model_config = ConfigDict(frozen=True)

    target_id: str
    indicator: str
    breakdown: str
    comparator: Comparator
    unit: str
    aggregation: str
    label: str | None = None
    budget_line: str | None = None
    agreed_value: Presented
    target_value: Presented
    actual: Presented | None
    months_reported: int
    expected_to_date: Presented | None
    forecast: Presented | None
    attainment_pct: Presented | None
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
