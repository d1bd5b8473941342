"""How attainment results change, event by event: the history rows of the attainment view and
the answer of `zs audit explain`. Pure: the results come from `projections.attainment`."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from events.store import RecordedEvent
from projections.attainment import AgreementAttainment, TargetResult, attainment

COMPARED = (
    "target_value", "actual", "months_reported", "expected_to_date", "forecast",
    "attainment_pct", "status", "final", "revised_after_close",
)  # fmt: skip
"""The fields of a result whose change is worth a history row."""


class TargetChange(BaseModel):
    """One target's result changed by one event: what it was and what it became."""

    model_config = ConfigDict(frozen=True)

    agreement_id: str
    target_id: str
    position: int
    event_id: str
    event_type: str
    recorded_at: datetime
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    def changed_fields(self) -> dict[str, tuple[Any, Any]]:
        """Field -> (old, new) for every compared field that differs."""
        old, new = self.old or {}, self.new or {}
        return {f: (old.get(f), new.get(f)) for f in COMPARED if old.get(f) != new.get(f)}


def compared(result: TargetResult | None) -> dict[str, Any] | None:
    """The compared fields of a result, as JSON values."""
    if result is None:
        return None
    return result.model_dump(mode="json", include=set(COMPARED))


def by_target(result: AgreementAttainment | None) -> dict[str, TargetResult]:
    """Target id -> result."""
    return {target.target_id: target for target in result.targets} if result else {}


def changes(
    before: AgreementAttainment | None, after: AgreementAttainment | None, event: RecordedEvent
) -> list[TargetChange]:
    """The targets whose compared fields differ between `before` and `after`."""
    old, new = by_target(before), by_target(after)
    found = []
    for target_id in [*old, *(t for t in new if t not in old)]:
        old_values, new_values = compared(old.get(target_id)), compared(new.get(target_id))
        if old_values != new_values:
            found.append(
                TargetChange(
                    agreement_id=(after or before).agreement_id,  # type: ignore[union-attr]
                    target_id=target_id,
                    position=event.position,
                    event_id=str(event.event_id),
                    event_type=event.type,
                    recorded_at=event.recorded_at,
                    old=old_values,
                    new=new_values,
                )
            )
    return found


def walk(
    agreement_id: str, events: Sequence[RecordedEvent], after: int
) -> tuple[AgreementAttainment | None, list[TargetChange]]:
    """The result at the last of `events`, and every change made by the events after position
    `after` (each computed from the prefix of `events` up to it)."""
    earlier = [event for event in events if event.position <= after]
    result = attainment(agreement_id, earlier)
    found: list[TargetChange] = []
    for index, event in enumerate(events):
        if event.position <= after:
            continue
        following = attainment(agreement_id, events[: index + 1])
        found += changes(result, following, event)
        result = following
    return result, found
