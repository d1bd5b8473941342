"""How attainment results change, event by event: the history rows of the attainment view and
the answer of `zs audit explain`. Pure: the results come from the fold of
`projections.attainment.calculation`, recomputing only the targets each event touches."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from events.catalogue import FIGURE_TYPES
from events.envelope import json_number
from events.log import RecordedEvent
from projections.attainment.answers import AgreementAttainment, TargetResult
from projections.attainment.calculation import (
    Evaluation,
    agreement_result,
    apply,
    evaluate,
    new_state,
)
from projections.attainment.inputs import candidates, concluded_in, relevant

COMPARED = (
    "target_value", "actual", "months_reported", "expected_to_date", "forecast",
    "attainment_pct", "status", "final", "revised_after_close", "plan_basis", "plan_path",
    "baseline", "target_level", "actual_level",
)  # fmt: skip
"""The fields of a result whose change is worth a history row (a change of the plan path, e.g.
by a correction of last year's profile, is one too)."""


class TargetChange(BaseModel):
    """One target's result changed by one event: what it was and what it became."""

    model_config = ConfigDict(frozen=True)

    agreement_id: str
    target_id: str
    position: int
    event_id: str
    event_type: str
    recorded_at: datetime
    occurred_at: datetime | None = None
    """When the source published the event (its envelope's `occurred_at`)."""
    period: str | None = None
    """The month a monthly figure event is about (`YYYY-MM`); None for other events."""
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    def changed_fields(self) -> dict[str, tuple[Any, Any]]:
        """Field -> (old, new) for every compared field that differs."""
        old, new = self.old or {}, self.new or {}
        return {f: (old.get(f), new.get(f)) for f in COMPARED if old.get(f) != new.get(f)}


def compared(result: TargetResult | Evaluation | None) -> dict[str, Any] | None:
    """The compared fields of a result, as JSON values."""
    if result is None:
        return None
    if isinstance(result, TargetResult):
        values = {name: getattr(result, name) for name in COMPARED}
    else:
        values = {name: getattr(result.outcome, name, None) for name in COMPARED}
        values["revised_after_close"] = result.revised
    return {name: _json(value) for name, value in values.items()}


def _json(value: object) -> object:
    """A compared value as JSON: Decimals as numbers (as `TargetResult` presents them), the
    plan path as a list of them."""
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    return json_number(value) if isinstance(value, Decimal) else value


def change(
    agreement_id: str,
    target_id: str,
    event: RecordedEvent,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> TargetChange:
    """The history entry of one target changed by `event`."""
    return TargetChange(
        agreement_id=agreement_id,
        target_id=target_id,
        position=event.position,
        event_id=str(event.event_id),
        event_type=event.type,
        recorded_at=event.recorded_at,
        occurred_at=event.occurred_at,
        period=event.data.get("period") if event.type in FIGURE_TYPES else None,
        old=old,
        new=new,
    )


def walk(
    agreement_id: str, events: Sequence[RecordedEvent], after: int
) -> tuple[AgreementAttainment | None, list[TargetChange]]:
    """The result at the last of `events`, and every change made by the events after position
    `after`: one fold, recomputing after each event only the targets it touches."""
    concluded = concluded_in(agreement_id, list(events))
    if concluded is None:
        return None, []
    state = new_state(concluded)
    jobcenters = candidates(concluded, list(events))
    current: dict[str, dict[str, Any] | None] = {}
    found: list[TargetChange] = []
    for event in events:
        data = relevant(concluded, jobcenters, event)
        if data is None:
            continue
        for target_id in apply(state, event, data):
            old, new = current.get(target_id), compared(evaluate(state, target_id))
            current[target_id] = new
            if event.position > after and old != new:
                found.append(change(agreement_id, target_id, event, old, new))
    last = max((event.position for event in events), default=0)
    return agreement_result(state, last), found
