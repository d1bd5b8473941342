"""The event catalogue: v1 domain event models (the contract, ingest), their registry and upcasters.

Invariants: models are frozen and reject unknown fields; every rule checkable on one message
alone is checked here and surfaces as `InvalidEvent`; numbers are exact `Decimal`s that
serialise to JSON numbers; old schema versions are upcast step by step to the latest.

Its size: the whole v1 catalogue in one module, so it reads as the table of event types the
contract publishes; each model is a few lines.
"""

from abc import abstractmethod
from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from events.envelope import (
    STORED,
    Count,
    Envelope,
    Id,
    InvalidEvent,
    IsoDate,
    Money,
    NonNegativeMoney,
    Number,
    Period,
    RejectionCode,
    Slug,
    Text,
    Texts,
    Year,
    split_period,
)
from events.indicators import Aggregation, check_figure, check_target_value
from events.log import agreement_stream, figures_stream, framework_stream, jobcenter_stream


class DomainEvent(BaseModel):
    """Base of all event data models: frozen, strict about fields, named by type and version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    @property
    @abstractmethod
    def stream_id(self) -> str:
        """The stream this event belongs to, e.g. `agreement-<agreement_id>`."""


class InPeriod:
    """Mixin of the events about one reporting month (`period`)."""

    if TYPE_CHECKING:
        period: str

    @property
    def year_month(self) -> tuple[int, int]:
        """(year, month) of `period`."""
        return split_period(self.period)


Land = Annotated[str, Field(pattern=r"^DE-[A-Z]{2}$")]
"""A German Land as its ISO 3166-2 code, e.g. `DE-HE`."""

DistrictKey = Annotated[str, Field(pattern=r"^\d{5}$")]
"""A five-digit district key (*Kreisschlüssel*, the first five digits of the AGS), e.g. `06437`."""

AgreementLevel = Literal["jobcenter", "land", "federal"]
"""The level of the steering cascade an agreement belongs to (§ 48b Abs. 1 SGB II)."""


class JobcenterRegistered(DomainEvent):
    """A jobcenter became known under its own key, with its district key as an attribute (two
    jobcenters may share one; a territorial reform may change it)."""

    event_type: ClassVar[str] = "JobcenterRegistered"
    jobcenter_id: Id
    name: Text
    land: Land
    kind: Literal["gE", "zkT"]
    district_key: DistrictKey | None = None

    @property
    def stream_id(self) -> str:
        """`jobcenter-<jobcenter_id>`."""
        return jobcenter_stream(self.jobcenter_id)


class ComparisonTypeAssigned(DomainEvent):
    """A jobcenter was put in a comparison type (*Vergleichstyp*) of the § 48a comparison for a
    year: the type's code and name in a typology and its version (docs/domain.md, "Comparison
    types"). The latest recorded assignment of a (jobcenter, year) counts."""

    event_type: ClassVar[str] = "ComparisonTypeAssigned"
    jobcenter_id: Id
    year: Year
    type_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,8}$")]
    type_name: Text
    typology: Text
    typology_version: Text

    @property
    def stream_id(self) -> str:
        """`jobcenter-<jobcenter_id>`."""
        return jobcenter_stream(self.jobcenter_id)


class AgreementEvent(DomainEvent):
    """Base of the events that belong to one target agreement's stream."""

    agreement_id: Id

    @property
    def stream_id(self) -> str:
        """`agreement-<agreement_id>`."""
        return agreement_stream(self.agreement_id)


class AgreementConcluded(AgreementEvent):
    """A yearly target agreement was concluded at one level of the cascade: with one jobcenter
    (`level` jobcenter, the default), by a Land for its jobcenters (`land`) or by the federal
    ministry with the BA (`federal`). A Land or federal agreement's members are set by
    `AgreementMembersSet`; its targets are measured on their summed series."""

    event_type: ClassVar[str] = "AgreementConcluded"
    jobcenter_id: Id | None = None
    year: Year
    parties: Annotated[Texts, Field(min_length=1)]
    signed_on: IsoDate | None = None
    title: Text | None = None
    level: AgreementLevel = "jobcenter"
    land: Land | None = None

    @model_validator(mode="after")
    def _fits_level(self) -> Self:
        """A jobcenter agreement names its jobcenter, a Land agreement its Land, and neither
        names what its level does not have."""
        for field, needed in (("jobcenter_id", "jobcenter"), ("land", "land")):
            given = getattr(self, field) is not None
            if given != (self.level == needed):
                raise PydanticCustomError(
                    "level_fields",
                    "{need} for an agreement of level {level}",
                    {"field": field, "level": self.level,
                     "need": "is required" if not given else "is not allowed"},
                )  # fmt: skip
        return self

    @property
    def roll_up(self) -> bool:
        """Whether its targets are measured on its members' summed series (level land or
        federal)."""
        return self.level != "jobcenter"


class AgreementMembersSet(AgreementEvent):
    """The full list of member jobcenters of a Land or federal agreement, whose series its
    targets are measured on; the latest recorded list counts."""

    event_type: ClassVar[str] = "AgreementMembersSet"
    jobcenter_ids: Annotated[tuple[Id, ...], Field(min_length=1)]
    reason: Text | None = None

    @model_validator(mode="after")
    def _unique(self) -> Self:
        """A member is listed once."""
        seen: set[str] = set()
        for jobcenter_id in self.jobcenter_ids:
            if jobcenter_id in seen:
                raise PydanticCustomError(
                    "duplicate_member",
                    "{jobcenter_id} is listed twice",
                    {"field": "jobcenter_ids", "jobcenter_id": jobcenter_id},
                )
            seen.add(jobcenter_id)
        return self


class TargetSet(AgreementEvent):
    """A quantitative target was agreed."""

    event_type: ClassVar[str] = "TargetSet"
    target_id: Id
    indicator: Slug
    breakdown: Slug
    comparator: Literal["at_least", "at_most"]
    value: Number
    unit: Literal["count", "percent", "eur"]
    aggregation: Aggregation
    budget_line: Id | None = None
    label: Text | None = None

    @model_validator(mode="after")
    def _value_fits_aggregation(self) -> Self:
        """Only a target on a change against the year before may be negative."""
        check_target_value(self.indicator, self.aggregation, self.value)
        return self


class TargetAmended(AgreementEvent):
    """A target's value was changed, in force from `effective_from`."""

    event_type: ClassVar[str] = "TargetAmended"
    target_id: Id
    value: Number
    effective_from: IsoDate
    reason: Text


class TargetPlanSet(AgreementEvent):
    """The agreement's monthly plan (*Planwerte*) of a target: the cumulative value planned by
    the end of each month, January to December. The latest recorded plan of a target counts."""

    event_type: ClassVar[str] = "TargetPlanSet"
    target_id: Id
    plan: Annotated[tuple[Count, ...], Field(min_length=12, max_length=12)]
    reason: Text | None = None

    @model_validator(mode="after")
    def _cumulative(self) -> Self:
        """A cumulative plan never falls from one month to the next and ends above zero."""
        falls = [m for m in range(1, 12) if self.plan[m] < self.plan[m - 1]]
        if falls or self.plan[-1] <= 0:
            month = falls[0] + 1 if falls else 12
            raise PydanticCustomError(
                "plan_not_cumulative",
                "month {month} plans {value}: a cumulative plan never falls and ends above 0",
                {"field": "plan", "month": month, "value": str(self.plan[month - 1])},
            )
        return self


class TargetWithdrawn(AgreementEvent):
    """A target was dropped from the agreement."""

    event_type: ClassVar[str] = "TargetWithdrawn"
    target_id: Id
    reason: Text


class QualitativeGoalSet(AgreementEvent):
    """A qualitative goal was agreed, with what the Land does to support it."""

    event_type: ClassVar[str] = "QualitativeGoalSet"
    goal_id: Id
    section: Text
    text: Text
    state_support: Texts = ()


class BudgetAllocated(AgreementEvent):
    """A budget line was allocated an amount, with the measures it funds."""

    event_type: ClassVar[str] = "BudgetAllocated"
    budget_line: Id
    amount_eur: NonNegativeMoney
    measures: Texts = ()


class BudgetDeviationRecorded(InPeriod, AgreementEvent):
    """An in-year change of a budget line (signed amount) was recorded."""

    event_type: ClassVar[str] = "BudgetDeviationRecorded"
    budget_line: Id
    period: Period
    amount_eur: Money
    reason: Text


class DialogHeld(AgreementEvent):
    """A target dialogue on progress took place."""

    event_type: ClassVar[str] = "DialogHeld"
    held_on: IsoDate
    summary: Text


class AgreementClosed(AgreementEvent):
    """The agreement's year was closed."""

    event_type: ClassVar[str] = "AgreementClosed"
    closed_on: IsoDate


class FigureEvent(InPeriod, DomainEvent):
    """Base of monthly figure publications: one vintage of one (jobcenter, series, month)."""

    jobcenter_id: Id
    indicator: Slug
    period: Period
    breakdown: Slug
    value: Number
    numerator: Count | None = None
    denominator: Count | None = None
    status: Literal["preliminary", "final"]

    @property
    def stream_id(self) -> str:
        """`figures-<jobcenter_id>`."""
        return figures_stream(self.jobcenter_id)

    @model_validator(mode="after")
    def _fits_indicator(self) -> Self:
        """Apply the sign and share rules of a known indicator."""
        check_figure(self.indicator, self.value, self.numerator, self.denominator)
        return self


class MonthlyFigureReported(FigureEvent):
    """The BA statistics published a monthly figure."""

    event_type: ClassVar[str] = "MonthlyFigureReported"


class MonthlyFigureCorrected(FigureEvent):
    """A published monthly figure was corrected retroactively."""

    event_type: ClassVar[str] = "MonthlyFigureCorrected"
    reason: Text


class FrameworkEvent(DomainEvent):
    """Base of the events of one Land framework agreement (*Rahmenvereinbarung*) and of the
    jobcenters that join it: the stream `framework-<framework_id>`."""

    framework_id: Id

    @property
    def stream_id(self) -> str:
        """`framework-<framework_id>`."""
        return framework_stream(self.framework_id)


class FrameworkAgreementConcluded(FrameworkEvent):
    """A Land framework agreement was concluded by several parties (no single jobcenter or
    year), with its goals and, where named, the deadline for jobcenters to join."""

    event_type: ClassVar[str] = "FrameworkAgreementConcluded"
    land: Land
    title: Text
    parties: Annotated[Texts, Field(min_length=1)]
    signed_on: IsoDate | None = None
    join_deadline: IsoDate | None = None
    goals: Texts = ()

    @model_validator(mode="after")
    def _deadline_after_signing(self) -> Self:
        """A join deadline cannot lie before the signing."""
        if self.signed_on and self.join_deadline and self.join_deadline < self.signed_on:
            raise PydanticCustomError(
                "period_out_of_range",
                "{deadline} lies before the signing on {signed}",
                {"field": "join_deadline", "deadline": str(self.join_deadline),
                 "signed": str(self.signed_on)},
            )  # fmt: skip
        return self


class FrameworkJoined(FrameworkEvent):
    """A jobcenter joined a framework agreement (*Beitritt*) after its carriers approved it
    (`approved_by`, e.g. the district and the employment agency, `approved_on`, e.g. in a
    steering meeting), committing to its own catalogue of measures (*Maßnahmenkatalog*)."""

    event_type: ClassVar[str] = "FrameworkJoined"
    jobcenter_id: Id
    joined_on: IsoDate
    approved_by: Annotated[Texts, Field(min_length=1)]
    approved_on: IsoDate | None = None
    measures: Texts = ()

    @model_validator(mode="after")
    def _approved_before_joining(self) -> Self:
        """The carriers approve before the jobcenter joins."""
        if self.approved_on and self.approved_on > self.joined_on:
            raise PydanticCustomError(
                "period_out_of_range",
                "{approved} lies after the joining on {joined}",
                {"field": "approved_on", "approved": str(self.approved_on),
                 "joined": str(self.joined_on)},
            )  # fmt: skip
        return self


class FrameworkMeasureReported(FrameworkEvent):
    """A member jobcenter reported progress on one of its measures, for a month where given."""

    event_type: ClassVar[str] = "FrameworkMeasureReported"
    jobcenter_id: Id
    measure: Text
    text: Text
    period: Period | None = None


EventT = TypeVar("EventT", bound=DomainEvent)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


FIGURE_TYPES = frozenset({MonthlyFigureReported.event_type, MonthlyFigureCorrected.event_type})
"""The event types of monthly figure publications."""


class Catalogue:
    """Registry of (event type, schema version) -> model, with upcasters between versions."""

    def __init__(self, *models: type[DomainEvent]) -> None:
        self._models: dict[tuple[str, int], type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._latest: dict[str, int] = {}
        for model_cls in models:
            self.register(model_cls)

    def copy(self) -> "Catalogue":
        """An independent catalogue with the same entries, safe to extend."""
        clone = Catalogue()
        clone._models = dict(self._models)
        clone._upcasters = dict(self._upcasters)
        clone._latest = dict(self._latest)
        return clone

    def register(self, model_cls: type[EventT]) -> type[EventT]:
        """Add a model under its `event_type` and `schema_version`; usable as a decorator."""
        key = (model_cls.event_type, model_cls.schema_version)
        if key in self._models:
            raise ValueError(f"{key[0]} v{key[1]} is already registered")
        self._models[key] = model_cls
        self._latest[key[0]] = max(self._latest.get(key[0], 0), key[1])
        return model_cls

    def register_upcaster(self, event_type: str, from_version: int, fn: Upcaster) -> None:
        """Add `fn`, which turns data of `from_version` into data of `from_version + 1`."""
        key = (event_type, from_version)
        if key in self._upcasters:
            raise ValueError(f"an upcaster from {event_type} v{from_version} already exists")
        self._upcasters[key] = fn

    def event_types(self) -> list[str]:
        """All registered event types, sorted."""
        return sorted({event_type for event_type, _ in self._models})

    def latest_version(self, event_type: str) -> int:
        """The newest registered schema version of `event_type`."""
        if event_type not in self._latest:
            raise InvalidEvent(RejectionCode.UNKNOWN_TYPE, f"type: {event_type!r} is not known")
        return self._latest[event_type]

    def model(self, event_type: str) -> type[DomainEvent]:
        """The model of the latest version of `event_type`."""
        return self._models[(event_type, self.latest_version(event_type))]

    def decode(
        self, event_type: str, schema_version: int, data: Mapping[str, Any], *, stored: bool = False
    ) -> DomainEvent:
        """Validate `data` of the given type and version, upcast to the latest model. `stored`:
        the data of a recorded event, not checked against the bounds that apply at ingest only
        (`events.envelope.STORED`)."""
        context = STORED if stored else None
        latest = self.latest_version(event_type)
        if schema_version == latest:  # nothing to upcast; validation does not change `data`
            return _validate(self._models[(event_type, latest)], data, context)
        self._check_version(event_type, schema_version, latest)
        upcast = deepcopy(dict(data))
        for version in range(schema_version, latest):
            if (event_type, version) in self._models:
                _validate(self._models[(event_type, version)], upcast, context)
            upcast = self._upcasters[(event_type, version)](upcast)
        return _validate(self._models[(event_type, latest)], upcast, context)

    def _check_version(self, event_type: str, schema_version: int, latest: int) -> None:
        """Reject a version that is unknown or cannot be upcast to `latest`."""
        reachable = all((event_type, v) in self._upcasters for v in range(schema_version, latest))
        if not 1 <= schema_version <= latest or not reachable:
            raise InvalidEvent(
                RejectionCode.UNKNOWN_SCHEMA_VERSION,
                f"schema_version: {event_type} has no usable version {schema_version}"
                f" (latest is {latest})",
            )


def _validate(
    model_cls: type[EventT], data: Mapping[str, Any], context: dict[str, Any] | None
) -> EventT:
    """Validate event data, turning pydantic errors into `InvalidEvent`."""
    try:
        return model_cls.model_validate(data, context=context)
    except ValidationError as error:
        raise InvalidEvent.from_validation_error(
            error, "data", RejectionCode.INVALID_DATA
        ) from None


V1_EVENTS: tuple[type[DomainEvent], ...] = (
    JobcenterRegistered,
    ComparisonTypeAssigned,
    AgreementConcluded,
    AgreementMembersSet,
    TargetSet,
    TargetAmended,
    TargetWithdrawn,
    TargetPlanSet,
    QualitativeGoalSet,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DialogHeld,
    AgreementClosed,
    MonthlyFigureReported,
    MonthlyFigureCorrected,
    FrameworkAgreementConcluded,
    FrameworkJoined,
    FrameworkMeasureReported,
)
CATALOGUE = Catalogue(*V1_EVENTS)


def parse_envelope(
    raw: Mapping[str, Any], catalogue: Catalogue = CATALOGUE
) -> tuple[Envelope, DomainEvent]:
    """Validate an envelope and decode its data; raises `InvalidEvent` on any problem."""
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as error:
        raise InvalidEvent.from_validation_error(
            error, "", RejectionCode.INVALID_ENVELOPE
        ) from None
    return envelope, catalogue.decode(envelope.type, envelope.schema_version, envelope.data)


def json_schemas(catalogue: Catalogue = CATALOGUE) -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of the envelope and of the latest version of every type."""
    schemas = {"Envelope.schema.json": Envelope.model_json_schema()}
    for event_type in catalogue.event_types():
        model_cls = catalogue.model(event_type)
        name = f"{event_type}.v{model_cls.schema_version}.schema.json"
        schemas[name] = model_cls.model_json_schema()
    return schemas
