"""Which recorded events an agreement's result depends on: its own stream and its jobcenter's
figures of its year and the year before. Pure (no IO); the one definition the live projection
(`earlier_figures`: the figures recorded before the conclusion), the rebuild (a jobcenter's
streams, folded through `relevant`), the as-of replay and `explain` (`services.replay`) share."""

from events.catalogue import (
    CATALOGUE,
    FIGURE_TYPES,
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
    TargetPlanSet,
    TargetSet,
    TargetWithdrawn,
)
from events.log import RecordedEvent, Selection, agreement_stream, figures_stream

RELEVANT: tuple[type[DomainEvent], ...] = (
    AgreementConcluded, TargetSet, TargetAmended, TargetWithdrawn, TargetPlanSet,
    BudgetAllocated, BudgetDeviationRecorded, AgreementClosed, MonthlyFigureReported,
    MonthlyFigureCorrected,
)  # fmt: skip
RELEVANT_TYPES = frozenset(model.event_type for model in RELEVANT)


def concluded_in(agreement_id: str, recorded: list[RecordedEvent]) -> AgreementConcluded | None:
    """The first AgreementConcluded of `agreement_id` among `recorded`."""
    for event in recorded:
        if event.type == "AgreementConcluded" and event.stream_id == agreement_stream(agreement_id):
            decoded = decode(event)
            if isinstance(decoded, AgreementConcluded) and decoded.agreement_id == agreement_id:
                return None if decoded.roll_up else decoded  # roll-ups: not measured yet
    return None


def decode(event: RecordedEvent) -> DomainEvent:
    """The typed data of a recorded event."""
    return CATALOGUE.decode(event.type, event.schema_version, event.data)


def jobcenter_of(agreement: AgreementConcluded) -> str:
    """The jobcenter of an agreement of level jobcenter."""
    assert agreement.jobcenter_id is not None, "a jobcenter's agreement names its jobcenter"
    return agreement.jobcenter_id


def relevant(agreement: AgreementConcluded, event: RecordedEvent) -> DomainEvent | None:
    """The typed data of `event` if it is the agreement's or its jobcenter's figures', else None."""
    streams = (agreement_stream(agreement.agreement_id), figures_stream(jobcenter_of(agreement)))
    if event.stream_id not in streams or event.type not in RELEVANT_TYPES:
        return None
    data = decode(event)
    return data if _belongs(data, agreement) else None


def _belongs(event: DomainEvent, agreement: AgreementConcluded) -> bool:
    """Whether typed data is about this agreement or its jobcenter's figures."""
    if isinstance(event, FigureEvent):
        return event.jobcenter_id == agreement.jobcenter_id
    return isinstance(event, AgreementEvent) and event.agreement_id == agreement.agreement_id


def own_events(agreement_id: str, until: int) -> Selection:
    """The agreement's own stream, recorded up to position `until`."""
    return Selection(stream=agreement_stream(agreement_id), until=until)


def figure_inputs(agreement: AgreementConcluded, until: int) -> Selection:
    """Its jobcenter's figures of the agreement's year and the year before (the only ones its
    result reads), recorded up to position `until`."""
    years = [f"{year:04d}" for year in (agreement.year - 1, agreement.year)]
    return Selection(
        stream=figures_stream(jobcenter_of(agreement)),
        types=FIGURE_TYPES,
        until=until,
        prefixes={"period": years},
    )
