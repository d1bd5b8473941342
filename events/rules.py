"""What the ingest must know to judge a message: jobcenters, agreements, targets, budget lines.

A pure fold over recorded events; the ingest checks each new message against it (the rules of
the contract, ingest and docs/domain.md "Bad input" that need more than the message itself).

Its size: one rule per event type in `KnownEntities.check`, beside the fold that keeps what
those rules read; apart, a reader could not see which fact each rule relies on.
"""

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from events.catalogue import (
    AgreementClosed,
    AgreementConcluded,
    AgreementEvent,
    AgreementMembersSet,
    BudgetAllocated,
    BudgetDeviationRecorded,
    ComparisonTypeAssigned,
    DialogHeld,
    DomainEvent,
    FigureEvent,
    FrameworkAgreementConcluded,
    FrameworkEvent,
    FrameworkJoined,
    FrameworkMeasureReported,
    JobcenterRegistered,
    TargetAmended,
    TargetPlanSet,
    TargetSet,
    TargetWithdrawn,
)
from events.envelope import InvalidEvent, RejectionCode

T = TypeVar("T")
REFERENCE_TYPES = (
    "JobcenterRegistered", "AgreementConcluded", "AgreementMembersSet", "TargetSet",
    "TargetAmended", "TargetWithdrawn", "TargetPlanSet", "QualitativeGoalSet", "BudgetAllocated",
    "BudgetDeviationRecorded",
    "DialogHeld", "AgreementClosed", "FrameworkAgreementConcluded", "FrameworkJoined",
    "FrameworkMeasureReported", "ComparisonTypeAssigned",
)  # fmt: skip
"""The event types the fold reads: everything but the (many) monthly figures."""

AFTER_CLOSE = (BudgetDeviationRecorded, DialogHeld)
"""Agreement events still accepted once the agreement is closed (they revise its result)."""


@dataclass(frozen=True)
class Sender:
    """An authenticated writer: the source it may write as, and, where named, the only event
    types and jobcenters it may write."""

    source: str
    types: frozenset[str] | None = None
    jobcenters: frozenset[str] | None = None


@dataclass
class Agreement:
    """An agreement as far as validation needs it (a Land or federal agreement has no
    jobcenter of its own; a Land agreement has its Land)."""

    jobcenter_id: str | None
    year: int
    roll_up: bool = False
    land: str | None = None
    version: int = 0
    closed: bool = False
    active_targets: set[str] = field(default_factory=set)
    budget_lines: set[str] = field(default_factory=set)


@dataclass
class Framework:
    """A framework agreement as far as validation needs it."""

    land: str
    signed_on: date | None
    join_deadline: date | None
    version: int = 0
    members: set[str] = field(default_factory=set)


@dataclass
class KnownEntities:
    """Jobcenters, agreements and framework agreements recorded so far, with their stream
    versions."""

    position: int = 0
    jobcenters: dict[str, int] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    lands: dict[str, str] = field(default_factory=dict)
    """jobcenter_id -> its Land, as last registered."""
    frameworks: dict[str, Framework] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    """Keys of the agreements and frameworks this instance may change in place: those it
    created or copied since it last shared them (see `copy`)."""

    def copy(self) -> "KnownEntities":
        """An independent copy, for trying out a batch. The maps are copied; an agreement or a
        framework is copied only when one of the two first changes it (a deep copy of every
        agreement ever recorded made each batch slower as the store grew)."""
        self.owned = set()  # from now on shared with the copy
        return KnownEntities(self.position, dict(self.jobcenters), dict(self.agreements),
                             dict(self.lands), dict(self.frameworks))  # fmt: skip

    def _own(self, entities: dict[str, T], key: str) -> T:
        """The agreement or framework under `key`, copied first unless this instance owns it
        (agreement and framework ids are told apart by the map they are in)."""
        owned_key = f"{'agreement' if entities is self.agreements else 'framework'}:{key}"
        if owned_key not in self.owned:
            entities[key] = copy.deepcopy(entities[key])
            self.owned.add(owned_key)
        return entities[key]

    def stream_version(self, stream_id: str) -> int:
        """The version of a jobcenter or agreement stream as known here (0: none yet)."""
        kind, _, key = stream_id.partition("-")
        if kind == "jobcenter":
            return self.jobcenters.get(key, 0)
        if kind == "framework":
            framework = self.frameworks.get(key)
            return framework.version if framework else 0
        agreement = self.agreements.get(key)
        return agreement.version if kind == "agreement" and agreement else 0

    def apply(self, event: DomainEvent) -> None:
        """Fold one accepted event in."""
        if isinstance(event, JobcenterRegistered | ComparisonTypeAssigned):
            self.jobcenters[event.jobcenter_id] = self.jobcenters.get(event.jobcenter_id, 0) + 1
        if isinstance(event, JobcenterRegistered):
            self.lands[event.jobcenter_id] = event.land
        elif isinstance(event, FrameworkEvent):
            self._apply_framework(event)
        elif isinstance(event, AgreementConcluded):
            self.agreements[event.agreement_id] = Agreement(
                event.jobcenter_id, event.year, event.roll_up, event.land
            )
        if not isinstance(event, AgreementEvent):
            return
        agreement = self._own(self.agreements, event.agreement_id)
        agreement.version += 1
        if isinstance(event, TargetSet):
            agreement.active_targets.add(event.target_id)
        elif isinstance(event, TargetWithdrawn):
            agreement.active_targets.discard(event.target_id)
        elif isinstance(event, BudgetAllocated):
            agreement.budget_lines.add(event.budget_line)
        elif isinstance(event, AgreementClosed):
            agreement.closed = True

    def _apply_framework(self, event: FrameworkEvent) -> None:
        if isinstance(event, FrameworkAgreementConcluded):
            self.frameworks[event.framework_id] = Framework(
                event.land, event.signed_on, event.join_deadline
            )
        framework = self._own(self.frameworks, event.framework_id)
        framework.version += 1
        if isinstance(event, FrameworkJoined):
            framework.members.add(event.jobcenter_id)

    def check(self, event: DomainEvent, today: date) -> None:
        """Raise `InvalidEvent` when `event` does not fit what is recorded."""
        if isinstance(event, FigureEvent):
            self._check_figure(event, today)
        elif isinstance(event, FrameworkEvent):
            self._check_framework_event(event)
        elif isinstance(event, ComparisonTypeAssigned):
            self._require_jobcenter(event.jobcenter_id)
        elif isinstance(event, AgreementConcluded):
            if event.jobcenter_id is not None:
                self._require_jobcenter(event.jobcenter_id)
            if event.agreement_id in self.agreements:
                raise InvalidEvent(
                    RejectionCode.AGREEMENT_EXISTS,
                    f"agreement {event.agreement_id!r} was concluded already",
                )
        elif isinstance(event, AgreementEvent):
            self._check_agreement_event(event, self._require_agreement(event.agreement_id))

    def check_sender(self, sender: Sender, source: str, event: DomainEvent) -> None:
        """Raise `InvalidEvent` (`source_not_allowed`) unless `sender` may write `event` as
        `source`."""
        if source != sender.source:
            raise InvalidEvent(
                RejectionCode.SOURCE_NOT_ALLOWED,
                f"source {source!r} is not the sender's ({sender.source!r})",
            )
        if sender.types is not None and event.event_type not in sender.types:
            raise InvalidEvent(
                RejectionCode.SOURCE_NOT_ALLOWED,
                f"{sender.source!r} may not send {event.event_type}",
            )
        jobcenter = self.jobcenter_of(event)
        if sender.jobcenters is not None and jobcenter not in sender.jobcenters:
            raise InvalidEvent(
                RejectionCode.SOURCE_NOT_ALLOWED,
                f"{sender.source!r} may not write for jobcenter {jobcenter!r}",
            )

    def jobcenter_of(self, event: DomainEvent) -> str | None:
        """The jobcenter an event is about, as far as known."""
        if isinstance(
            event,
            FigureEvent | JobcenterRegistered | ComparisonTypeAssigned | AgreementConcluded
            | FrameworkJoined | FrameworkMeasureReported,
        ):  # fmt: skip
            return event.jobcenter_id
        if isinstance(event, AgreementEvent) and event.agreement_id in self.agreements:
            return self.agreements[event.agreement_id].jobcenter_id
        return None

    def _check_figure(self, event: FigureEvent, today: date) -> None:
        self._require_jobcenter(event.jobcenter_id)
        if event.year_month > (today.year, today.month):
            raise InvalidEvent(
                RejectionCode.PERIOD_IN_FUTURE,
                f"data.period: {event.period} lies in the future",
            )

    def _check_framework_event(self, event: FrameworkEvent) -> None:
        """Frameworks are concluded once; a jobcenter of the framework's Land joins once, by
        the deadline and not before the signing; only members report measures."""
        if isinstance(event, FrameworkAgreementConcluded):
            if event.framework_id in self.frameworks:
                raise InvalidEvent(
                    RejectionCode.FRAMEWORK_EXISTS,
                    f"framework agreement {event.framework_id!r} was concluded already",
                )
            return
        framework = self.frameworks.get(event.framework_id)
        if framework is None:
            raise InvalidEvent(
                RejectionCode.UNKNOWN_FRAMEWORK,
                f"framework agreement {event.framework_id!r} was never concluded",
            )
        if isinstance(event, FrameworkJoined):
            self._check_join(event, framework)
        elif isinstance(event, FrameworkMeasureReported):
            self._require_jobcenter(event.jobcenter_id)
            if event.jobcenter_id not in framework.members:
                raise InvalidEvent(
                    RejectionCode.NOT_A_MEMBER,
                    f"jobcenter {event.jobcenter_id!r} has not joined {event.framework_id!r}",
                )

    def _check_join(self, event: FrameworkJoined, framework: Framework) -> None:
        self._require_jobcenter(event.jobcenter_id)
        if event.jobcenter_id in framework.members:
            raise InvalidEvent(
                RejectionCode.ALREADY_JOINED,
                f"jobcenter {event.jobcenter_id!r} has joined {event.framework_id!r} already",
            )
        land = self.lands.get(event.jobcenter_id)
        if land != framework.land:
            raise InvalidEvent(
                RejectionCode.OUTSIDE_LAND,
                f"jobcenter {event.jobcenter_id!r} lies in {land}, the framework agreement "
                f"{event.framework_id!r} in {framework.land}",
            )
        if framework.join_deadline and event.joined_on > framework.join_deadline:
            raise InvalidEvent(
                RejectionCode.JOIN_DEADLINE_PASSED,
                f"data.joined_on: {event.joined_on} lies after the deadline "
                f"{framework.join_deadline}",
            )
        if framework.signed_on and event.joined_on < framework.signed_on:
            raise InvalidEvent(
                RejectionCode.PERIOD_OUT_OF_RANGE,
                f"data.joined_on: {event.joined_on} lies before the signing on "
                f"{framework.signed_on}",
            )

    def _check_agreement_event(self, event: AgreementEvent, agreement: Agreement) -> None:
        if agreement.closed and not isinstance(event, AFTER_CLOSE):
            raise InvalidEvent(
                RejectionCode.AGREEMENT_CLOSED,
                f"agreement {event.agreement_id!r} is closed: no {event.event_type} any more",
            )
        if isinstance(event, TargetSet) and event.target_id in agreement.active_targets:
            raise InvalidEvent(
                RejectionCode.TARGET_EXISTS,
                f"target {event.target_id!r} is set already; amend or withdraw it",
            )
        if isinstance(event, TargetAmended | TargetWithdrawn | TargetPlanSet):
            self._require_target(event.target_id, agreement)
        if isinstance(event, TargetAmended) and event.effective_from.year != agreement.year:
            raise InvalidEvent(
                RejectionCode.PERIOD_OUT_OF_RANGE,
                f"data.effective_from: {event.effective_from} is outside the agreement's year "
                f"{agreement.year}",
            )
        if isinstance(event, BudgetDeviationRecorded):
            self._check_deviation(event, agreement)
        if isinstance(event, AgreementMembersSet):
            self._check_members(event, agreement)

    def _check_members(self, event: AgreementMembersSet, agreement: Agreement) -> None:
        """Only a Land or federal agreement has members; each is registered, and a Land
        agreement's lie in its Land."""
        if not agreement.roll_up:
            raise InvalidEvent(
                RejectionCode.NOT_A_ROLL_UP,
                f"agreement {event.agreement_id!r} is a jobcenter's: only Land and federal "
                "agreements have members",
            )
        for jobcenter_id in event.jobcenter_ids:
            self._require_jobcenter(jobcenter_id)
            land = self.lands.get(jobcenter_id)
            if agreement.land is not None and land != agreement.land:
                raise InvalidEvent(
                    RejectionCode.OUTSIDE_LAND,
                    f"jobcenter {jobcenter_id!r} lies in {land}, the agreement "
                    f"{event.agreement_id!r} in {agreement.land}",
                )

    @staticmethod
    def _check_deviation(event: BudgetDeviationRecorded, agreement: Agreement) -> None:
        if event.budget_line not in agreement.budget_lines:
            raise InvalidEvent(
                RejectionCode.UNKNOWN_BUDGET_LINE,
                f"budget line {event.budget_line!r} was never allocated",
            )
        if event.year_month[0] != agreement.year:
            raise InvalidEvent(
                RejectionCode.PERIOD_OUT_OF_RANGE,
                f"data.period: {event.period} is outside the agreement's year {agreement.year}",
            )

    def _require_jobcenter(self, jobcenter_id: str) -> None:
        if jobcenter_id not in self.jobcenters:
            raise InvalidEvent(
                RejectionCode.UNKNOWN_JOBCENTER, f"jobcenter {jobcenter_id!r} is not registered"
            )

    def _require_agreement(self, agreement_id: str) -> Agreement:
        agreement = self.agreements.get(agreement_id)
        if agreement is None:
            raise InvalidEvent(
                RejectionCode.UNKNOWN_AGREEMENT, f"agreement {agreement_id!r} was never concluded"
            )
        return agreement

    @staticmethod
    def _require_target(target_id: str, agreement: Agreement) -> None:
        if target_id not in agreement.active_targets:
            raise InvalidEvent(
                RejectionCode.UNKNOWN_TARGET,
                f"target {target_id!r} is not an active target of this agreement",
            )
