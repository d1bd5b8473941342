"""Which recorded events an agreement's result depends on: its own stream and the figures of its
jobcenters of its year and the year before. An agreement's jobcenters are its own (level
jobcenter), or, for a Land or federal agreement (a roll-up), every jobcenter any of its recorded
`AgreementMembersSet` names (the latest list is summed; earlier members' figures are read too,
so that a replay that ends before a later list sees the members of its moment). Pure (no IO);
the one definition the live projection (`earlier_figures`: the figures recorded before a
conclusion or a membership), the rebuild (a jobcenter's streams, folded through `relevant`), the
as-of replay and `explain` (`services.replay`) share."""

from collections.abc import Iterable

from events.catalogue import (
    CATALOGUE,
    FIGURE_TYPES,
    AgreementClosed,
    AgreementConcluded,
    AgreementEvent,
    AgreementMembersSet,
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
    AgreementConcluded, AgreementMembersSet, TargetSet, TargetAmended, TargetWithdrawn,
    TargetPlanSet, BudgetAllocated, BudgetDeviationRecorded, AgreementClosed, MonthlyFigureReported,
    MonthlyFigureCorrected,
)  # fmt: skip
RELEVANT_TYPES = frozenset(model.event_type for model in RELEVANT)


def concluded_in(agreement_id: str, recorded: list[RecordedEvent]) -> AgreementConcluded | None:
    """The first AgreementConcluded of `agreement_id` among `recorded`."""
    for event in recorded:
        if event.type == "AgreementConcluded" and event.stream_id == agreement_stream(agreement_id):
            decoded = decode(event)
            if isinstance(decoded, AgreementConcluded) and decoded.agreement_id == agreement_id:
                return decoded
    return None


def candidates(agreement: AgreementConcluded, own: list[RecordedEvent]) -> frozenset[str]:
    """The jobcenters whose figures the agreement may read, given events that hold its own
    stream: its jobcenter, or every jobcenter its member lists among `own` name."""
    if agreement.jobcenter_id is not None:
        return frozenset({agreement.jobcenter_id})
    stream = agreement_stream(agreement.agreement_id)
    named: set[str] = set()
    for event in own:
        if event.type == AgreementMembersSet.event_type and event.stream_id == stream:
            named.update(event.data["jobcenter_ids"])
    return frozenset(named)


def decode(event: RecordedEvent) -> DomainEvent:
    """The typed data of a recorded event."""
    return CATALOGUE.decode(event.type, event.schema_version, event.data, stored=True)


def relevant(
    agreement: AgreementConcluded, jobcenters: frozenset[str], event: RecordedEvent
) -> DomainEvent | None:
    """The typed data of `event` if it is the agreement's or figures' of one of `jobcenters`
    (its `candidates`), else None."""
    if event.type not in RELEVANT_TYPES:
        return None
    if event.type in FIGURE_TYPES:
        if event.data.get("jobcenter_id") not in jobcenters:
            return None
    elif event.stream_id != agreement_stream(agreement.agreement_id):
        return None
    data = decode(event)
    return data if _belongs(data, agreement, jobcenters) else None


def _belongs(event: DomainEvent, agreement: AgreementConcluded, jobcenters: frozenset[str]) -> bool:
    """Whether typed data is about this agreement or one of its jobcenters' figures."""
    if isinstance(event, FigureEvent):
        return event.jobcenter_id in jobcenters
    return isinstance(event, AgreementEvent) and event.agreement_id == agreement.agreement_id


def own_events(agreement_id: str, until: int) -> Selection:
    """The agreement's own stream, recorded up to position `until`."""
    return Selection(stream=agreement_stream(agreement_id), until=until)


def figure_inputs(jobcenters: Iterable[str], year: int, until: int) -> list[Selection]:
    """The figures of `jobcenters` (an agreement's `candidates`, or those joining it) of `year`
    and the year before (the only ones an agreement of `year` reads), recorded up to position
    `until`: one selection per jobcenter, each found through its stream's period index."""
    years = [f"{y:04d}" for y in (year - 1, year)]
    return [
        Selection(stream=figures_stream(jobcenter), types=FIGURE_TYPES, until=until,
                  prefixes={"period": years})
        for jobcenter in sorted(jobcenters)
    ]  # fmt: skip
