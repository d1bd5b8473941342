"""Which recorded events an agreement's result depends on: its own stream and its jobcenter's
figures. Pure (no IO); the one definition the live projection, the rebuild, the as-of replay and
`explain` share."""

from events.catalogue import (
    CATALOGUE,
    AgreementClosed,
    AgreementConcluded,
    AgreementEvent,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DomainEvent,
    FigureEvent,
    MonthlyFigureCorrected,
    MonthlyFigureReported,
    TargetAmended,
    TargetSet,
    TargetWithdrawn,
)
from events.store import RecordedEvent

RELEVANT: tuple[type[DomainEvent], ...] = (
    AgreementConcluded, TargetSet, TargetAmended, TargetWithdrawn, BudgetAllocated,
    BudgetDeviationRecorded, AgreementClosed, MonthlyFigureReported, MonthlyFigureCorrected,
)  # fmt: skip
RELEVANT_TYPES = frozenset(model.event_type for model in RELEVANT)


def concluded_in(agreement_id: str, recorded: list[RecordedEvent]) -> AgreementConcluded | None:
    """The first AgreementConcluded of `agreement_id` among `recorded`."""
    for event in recorded:
        if event.type == "AgreementConcluded" and event.stream_id == f"agreement-{agreement_id}":
            decoded = decode(event)
            if isinstance(decoded, AgreementConcluded) and decoded.agreement_id == agreement_id:
                return decoded
    return None


def decode(event: RecordedEvent) -> DomainEvent:
    """The typed data of a recorded event."""
    return CATALOGUE.decode(event.type, event.schema_version, event.data)


def relevant(agreement: AgreementConcluded, event: RecordedEvent) -> DomainEvent | None:
    """The typed data of `event` if it is the agreement's or its jobcenter's figures', else None."""
    streams = (f"agreement-{agreement.agreement_id}", f"figures-{agreement.jobcenter_id}")
    if event.stream_id not in streams or event.type not in RELEVANT_TYPES:
        return None
    data = decode(event)
    return data if _belongs(data, agreement) else None


def _belongs(event: DomainEvent, agreement: AgreementConcluded) -> bool:
    """Whether typed data is about this agreement or its jobcenter's figures."""
    if isinstance(event, FigureEvent):
        return event.jobcenter_id == agreement.jobcenter_id
    return isinstance(event, AgreementEvent) and event.agreement_id == agreement.agreement_id
