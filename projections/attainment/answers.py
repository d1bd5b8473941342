"""The attainment answers: what the query API, the as-of replay and `zs audit` return
(docs/contract.md, the attainment answer)."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from events.envelope import json_number
from events.numbers import Presented

Exact = Annotated[Decimal, PlainSerializer(json_number, when_used="json")]
"""A Decimal as given (the agreed value), presented in JSON as a number."""

Comparator = Literal["at_least", "at_most"]
Status = Literal["no_data", "on_track", "at_risk", "achieved", "missed"]
PlanBasis = Literal["agreed_plan", "prior_year_profile", "linear"]


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
    agreed_value: Exact
    target_value: Presented
    actual: Presented | None
    months_reported: int
    expected_to_date: Presented | None
    forecast: Presented | None
    attainment_pct: Presented | None
    status: Status
    final: bool
    revised_after_close: bool
    plan_basis: PlanBasis | None = None
    """Accumulating targets: where the plan share comes from (docs/domain.md, section 4.3)."""
    plan_path: list[Presented] = []
    """The Soll of every month, January to December (what the target expects by its end)."""
    baseline: Presented | None = None
    """Change targets: B, the year before's level over the months compared."""
    target_level: Presented | None = None
    """Change targets: T = B x (1 + target_value / 100), the level the target asks for."""
    actual_level: Presented | None = None
    """Change targets: A, this year's level over the same months."""


class AgreementAttainment(BaseModel):
    """All active targets of one agreement, as known at `position`."""

    model_config = ConfigDict(frozen=True)

    agreement_id: str
    jobcenter_id: str | None
    """Its jobcenter; null for a Land or federal agreement (measured on its members' sum)."""
    level: Literal["jobcenter", "land", "federal"] = "jobcenter"
    land: str | None = None
    """A Land agreement's Land (null at the other levels)."""
    year: int
    position: int
    targets: list[TargetResult]


class PortfolioRow(TargetResult):
    """One (agreement, target) of the portfolio view."""

    agreement_id: str
    level: Literal["jobcenter", "land", "federal"] = "jobcenter"
    """The agreement's level in the cascade."""
    jobcenter_id: str | None
    """The agreement's jobcenter; null for a Land or federal agreement."""
    land: str | None
    """The jobcenter's Land, or the Land agreement's; null for a federal agreement."""
    year: int
