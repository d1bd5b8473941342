"""Unit tests of the event catalogue: decoding, rejection codes, JSON round trip, upcasting."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from events.catalogue import (
    CATALOGUE,
    AgreementConcluded,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DialogHeld,
    DomainEvent,
    MonthlyFigureReported,
    json_schemas,
    parse_envelope,
)
from events.envelope import InvalidEvent, RejectionCode
from events.indicators import INDICATORS, known_indicator
from tests.factories import DialogHeldV2, add_participants, catalogue_with_dialog_v2

EXAMPLES: dict[str, dict[str, Any]] = {
    "JobcenterRegistered": {
        "jobcenter_id": "06437",
        "name": "Kommunales Job-Center Odenwaldkreis",
        "land": "DE-HE",
        "kind": "zkT",
    },
    "AgreementConcluded": {
        "agreement_id": "odw-2022",
        "jobcenter_id": "06437",
        "year": 2022,
        "parties": ["Kreisausschuss des Odenwaldkreises", "HMSI Hessen"],
        "signed_on": "2022-04-12",
        "title": "Zielvereinbarung 2022",
    },
    "TargetSet": {
        "agreement_id": "odw-2022",
        "target_id": "integrations-total",
        "indicator": "integrations",
        "breakdown": "total",
        "comparator": "at_least",
        "value": 770,
        "unit": "count",
        "aggregation": "sum",
        "label": "Integrationen in Erwerbstätigkeit",
    },
    "TargetAmended": {
        "agreement_id": "odw-2022",
        "target_id": "ltb-stock-total",
        "value": 2020,
        "effective_from": "2022-07-01",
        "reason": "Zielnachhaltedialog Juli",
    },
    "TargetWithdrawn": {
        "agreement_id": "odw-2022",
        "target_id": "llu-eur-total",
        "reason": "nur Beobachtung",
    },
    "QualitativeGoalSet": {
        "agreement_id": "odw-2022",
        "goal_id": "u25-training",
        "section": "Junge Menschen",
        "text": "Mindestens 70 Integrationen von unter 25-Jährigen in Ausbildung",
        "state_support": ["Landesprogramm Ausbildungsplatzförderung"],
    },
    "BudgetAllocated": {
        "agreement_id": "mkk-2018",
        "budget_line": "training-qualification",
        "amount_eur": "1289900.00",
        "measures": ["Qualifizierung", "Weiterbildung"],
    },
    "BudgetDeviationRecorded": {
        "agreement_id": "mkk-2018",
        "budget_line": "labour-market",
        "period": "2018-06",
        "amount_eur": -20440.5,
        "reason": "Mittelumschichtung",
    },
    "DialogHeld": {
        "agreement_id": "odw-2022",
        "held_on": "2022-09-20",
        "summary": "Integrationen über Plan, Langzeitbezug knapp über Ziel",
    },
    "AgreementClosed": {"agreement_id": "odw-2021", "closed_on": "2022-03-31"},
    "MonthlyFigureReported": {
        "jobcenter_id": "06437",
        "indicator": "integrations",
        "period": "2022-07",
        "breakdown": "total",
        "value": 64,
        "status": "final",
    },
    "MonthlyFigureCorrected": {
        "jobcenter_id": "06437",
        "indicator": "k3e2",
        "period": "2023-07",
        "breakdown": "women",
        "value": 31.25,
        "numerator": 350,
        "denominator": 1120,
        "status": "final",
        "reason": "BA-Korrektur Februar 2024",
    },
    "FrameworkAgreementConcluded": {
        "framework_id": "nrw-inklusiv",
        "land": "DE-NW",
        "title": "Rahmenvereinbarung NRW inklusiv",
        "parties": ["MAGS NRW", "Regionaldirektion NRW der BA", "Städtetag NRW", "LKT NRW"],
        "signed_on": "2018-02-28",
        "join_deadline": "2018-05-14",
        "goals": ["Arbeitsmarktchancen beeinträchtigter Menschen verbessern"],
    },
    "FrameworkJoined": {
        "framework_id": "nrw-inklusiv",
        "jobcenter_id": "05162",
        "joined_on": "2018-05-14",
        "approved_by": ["Rhein-Kreis Neuss", "Agentur für Arbeit Mönchengladbach"],
        "approved_on": "2018-05-07",
        "measures": ["Inklusionskompetenz prüfen"],
    },
    "FrameworkMeasureReported": {
        "framework_id": "nrw-inklusiv",
        "jobcenter_id": "05162",
        "measure": "Inklusionskompetenz prüfen",
        "text": "Aufstellung geprüft",
        "period": "2018-09",
    },
}
STREAMS = {
    "JobcenterRegistered": "jobcenter-06437",
    "AgreementConcluded": "agreement-odw-2022",
    "TargetSet": "agreement-odw-2022",
    "TargetAmended": "agreement-odw-2022",
    "TargetWithdrawn": "agreement-odw-2022",
    "QualitativeGoalSet": "agreement-odw-2022",
    "BudgetAllocated": "agreement-mkk-2018",
    "BudgetDeviationRecorded": "agreement-mkk-2018",
    "DialogHeld": "agreement-odw-2022",
    "AgreementClosed": "agreement-odw-2021",
    "MonthlyFigureReported": "figures-06437",
    "MonthlyFigureCorrected": "figures-06437",
    "FrameworkAgreementConcluded": "framework-nrw-inklusiv",
    "FrameworkJoined": "framework-nrw-inklusiv",
    "FrameworkMeasureReported": "framework-nrw-inklusiv",
}


def data(event_type: str, **changes: Any) -> dict[str, Any]:
    """A fresh example of `event_type` data with `changes`; a change to None drops the field."""
    merged = {**json.loads(json.dumps(EXAMPLES[event_type])), **changes}
    return {key: value for key, value in merged.items() if value is not None}


def envelope(**changes: Any) -> dict[str, Any]:
    """A valid envelope carrying a monthly figure, with `changes`."""
    raw = {
        "message_id": "ba-stat-2022-07-06437-integrations-total",
        "source": "ba-statistik",
        "type": "MonthlyFigureReported",
        "schema_version": 1,
        "occurred_at": "2022-10-27T10:00:00+02:00",
        "correlation_id": "ba-release-2022-10",
        "data": data("MonthlyFigureReported"),
    }
    return {**raw, **changes}


def rejection(event_type: str, schema_version: int = 1, **changes: Any) -> InvalidEvent:
    """The rejection raised when decoding the example of `event_type` with `changes`."""
    with pytest.raises(InvalidEvent) as caught:
        CATALOGUE.decode(event_type, schema_version, data(event_type, **changes))
    return caught.value


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_every_v1_type_decodes_into_its_model(event_type: str) -> None:
    event = CATALOGUE.decode(event_type, 1, data(event_type))
    assert type(event).__name__ == event_type
    assert event.event_type == event_type
    assert event.schema_version == 1
    assert event.stream_id == STREAMS[event_type]


def test_catalogue_holds_exactly_the_contract_types() -> None:
    assert CATALOGUE.event_types() == sorted(EXAMPLES)
    assert all(CATALOGUE.latest_version(event_type) == 1 for event_type in EXAMPLES)


def test_decoded_values_are_exact() -> None:
    budget = CATALOGUE.decode("BudgetAllocated", 1, data("BudgetAllocated"))
    assert isinstance(budget, BudgetAllocated)
    assert budget.amount_eur == Decimal("1289900")
    assert budget.measures == ("Qualifizierung", "Weiterbildung")
    deviation = CATALOGUE.decode("BudgetDeviationRecorded", 1, data("BudgetDeviationRecorded"))
    assert isinstance(deviation, BudgetDeviationRecorded)
    assert deviation.amount_eur == Decimal("-20440.5")
    assert deviation.year_month == (2018, 6)


def test_parse_envelope_normalises_time_to_utc() -> None:
    env, event = parse_envelope(envelope())
    assert env.occurred_at == datetime(2022, 10, 27, 8, 0, tzinfo=UTC)
    assert env.occurred_at.isoformat() == "2022-10-27T08:00:00+00:00"
    assert env.idempotency_key == ("ba-statistik", "ba-stat-2022-07-06437-integrations-total")
    assert isinstance(event, MonthlyFigureReported)
    assert event.value == 64
    assert event.year_month == (2022, 7)


@pytest.mark.parametrize(
    "changes",
    [
        {"occurred_at": "2022-10-27T08:00:00"},
        {"occurred_at": 1666857600},
        {"schema_version": "1"},
        {"schema_version": 0},
        {"message_id": "   "},
        {"message_id": "x" * 257},
        {"source": None},
        {"data": ["not", "an", "object"]},
        {"priority": "high"},
    ],
)
def test_malformed_envelope_is_invalid_envelope(changes: dict[str, Any]) -> None:
    raw = {key: value for key, value in envelope(**changes).items() if value is not None}
    with pytest.raises(InvalidEvent) as caught:
        parse_envelope(raw)
    assert caught.value.code == RejectionCode.INVALID_ENVELOPE
    assert caught.value.reason.split(":")[0] in {*changes, "priority"}


def test_unknown_type() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_envelope(envelope(type="FigureReported"))
    assert caught.value.code == "unknown_type"
    assert "FigureReported" in caught.value.reason


@pytest.mark.parametrize("version", [2, 0, -1])
def test_unknown_schema_version(version: int) -> None:
    assert rejection("DialogHeld", version).code == RejectionCode.UNKNOWN_SCHEMA_VERSION


@pytest.mark.parametrize(
    ("event_type", "changes", "field"),
    [
        ("MonthlyFigureReported", {"status": None}, "data.status"),
        ("MonthlyFigureReported", {"value": "many"}, "data.value"),
        ("MonthlyFigureReported", {"value": True}, "data.value"),
        ("MonthlyFigureReported", {"value": "0.12345678901234567890"}, "data.value"),
        ("MonthlyFigureReported", {"status": "draft"}, "data.status"),
        ("MonthlyFigureReported", {"period": "2022-13"}, "data.period"),
        ("MonthlyFigureReported", {"period": "2022-7"}, "data.period"),
        ("MonthlyFigureReported", {"indicator": "K3E2"}, "data.indicator"),
        ("MonthlyFigureReported", {"jobcenter_id": " 06437"}, "data.jobcenter_id"),
        ("MonthlyFigureReported", {"comment": "extra"}, "data.comment"),
        ("MonthlyFigureCorrected", {"reason": ""}, "data.reason"),
        ("JobcenterRegistered", {"land": "Hessen"}, "data.land"),
        ("JobcenterRegistered", {"kind": "ARGE"}, "data.kind"),
        ("AgreementConcluded", {"year": 2004}, "data.year"),
        ("AgreementConcluded", {"year": "2022"}, "data.year"),
        ("AgreementConcluded", {"parties": []}, "data.parties"),
        ("AgreementConcluded", {"parties": ["HMSI", " "]}, "data.parties.1"),
        ("AgreementConcluded", {"signed_on": "12.04.2022"}, "data.signed_on"),
        ("DialogHeld", {"held_on": 1663632000}, "data.held_on"),
        ("TargetSet", {"aggregation": "median"}, "data.aggregation"),
        ("TargetSet", {"agreement_id": "x" * 129}, "data.agreement_id"),
        ("TargetAmended", {"effective_from": None}, "data.effective_from"),
        ("BudgetAllocated", {"amount_eur": "1289900.005"}, "data.amount_eur"),
        ("QualitativeGoalSet", {"state_support": "text, not a list"}, "data.state_support"),
    ],
)
def test_ill_formed_data_is_invalid_data(
    event_type: str, changes: dict[str, Any], field: str
) -> None:
    rejected = rejection(event_type, **changes)
    assert rejected.code == RejectionCode.INVALID_DATA
    assert rejected.reason.startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("event_type", "changes", "field"),
    [
        ("MonthlyFigureReported", {"value": -1}, "data.value"),
        ("MonthlyFigureReported", {"indicator": "ltb_stock", "value": -2035}, "data.value"),
        ("MonthlyFigureReported", {"indicator": "k2", "value": -0.5}, "data.value"),
        ("MonthlyFigureReported", {"numerator": -3}, "data.numerator"),
        ("MonthlyFigureCorrected", {"denominator": -1120}, "data.denominator"),
        ("BudgetAllocated", {"amount_eur": -204400}, "data.amount_eur"),
        ("TargetSet", {"value": -770}, "data.value"),
    ],
)
def test_negative_counts_are_negative_value(
    event_type: str, changes: dict[str, Any], field: str
) -> None:
    rejected = rejection(event_type, **changes)
    assert rejected.code == RejectionCode.NEGATIVE_VALUE
    assert rejected.reason.startswith(f"{field}: must not be negative")


def test_negative_value_reason_names_field_and_indicator() -> None:
    rejected = rejection("MonthlyFigureReported", value=-1)
    assert rejected.reason == "data.value: must not be negative for indicator 'integrations'"


@pytest.mark.parametrize(
    ("event_type", "changes"),
    [
        ("MonthlyFigureReported", {"indicator": "k1", "value": -3.2}),
        ("MonthlyFigureReported", {"indicator": "k3", "value": -1.5}),
        ("MonthlyFigureReported", {"indicator": "regional_balance", "value": -7}),
        ("TargetSet", {"indicator": "k3", "aggregation": "change_of_mean", "value": -2}),
        ("TargetAmended", {"value": -1.5}),
        ("BudgetDeviationRecorded", {"amount_eur": "-204400.00"}),
    ],
)
def test_signed_values_are_accepted_where_they_can_be_negative(
    event_type: str, changes: dict[str, Any]
) -> None:
    event = CATALOGUE.decode(event_type, 1, data(event_type, **changes))
    signed = event.model_dump().get("value", event.model_dump().get("amount_eur"))
    assert isinstance(signed, Decimal)
    assert signed < 0


@pytest.mark.parametrize("indicator", ["k3e2", "k2e3", "continuous_employment", "k1e3"])
def test_share_numerator_above_denominator_is_rejected(indicator: str) -> None:
    rejected = rejection(
        "MonthlyFigureCorrected", indicator=indicator, numerator=1121, denominator=1120
    )
    assert rejected.code == RejectionCode.NUMERATOR_ABOVE_DENOMINATOR
    assert rejected.reason.startswith("data.numerator: 1121 is above the denominator 1120")


@pytest.mark.parametrize("indicator", ["k2", "integrations", "unknown_series"])
def test_numerator_may_exceed_denominator_of_non_shares(indicator: str) -> None:
    changes = {"indicator": indicator, "value": 120, "numerator": 1300, "denominator": 1080}
    event = CATALOGUE.decode("MonthlyFigureReported", 1, data("MonthlyFigureReported", **changes))
    assert isinstance(event, MonthlyFigureReported)
    assert event.numerator == 1300


@pytest.mark.parametrize("event_type", ["MonthlyFigureReported", "BudgetDeviationRecorded"])
def test_period_before_sgb_ii_is_out_of_range(event_type: str) -> None:
    rejected = rejection(event_type, period="2004-12")
    assert rejected.code == RejectionCode.PERIOD_OUT_OF_RANGE
    assert rejected.reason == "data.period: 2004-12 is before 2005-01"
    assert CATALOGUE.decode(event_type, 1, data(event_type, period="2005-01"))


def test_far_future_period_is_left_to_the_ingest() -> None:
    event = CATALOGUE.decode(
        "MonthlyFigureReported", 1, data("MonthlyFigureReported", period="2099-12")
    )
    assert isinstance(event, MonthlyFigureReported)
    assert event.year_month == (2099, 12)


def test_all_errors_are_reported_and_the_first_decides_the_code() -> None:
    rejected = rejection("MonthlyFigureReported", numerator=-1, status=None)
    assert rejected.code == RejectionCode.NEGATIVE_VALUE
    assert "data.numerator" in rejected.reason
    assert "data.status: is required" in rejected.reason


def test_rejection_codes_are_one_list() -> None:
    store_codes = {"unknown_jobcenter", "unknown_agreement", "unknown_target", "agreement_closed"}
    ingest_codes = {"period_in_future", "poison", "too_large", "not_json", "not_utf8"}
    assert store_codes | ingest_codes <= {code.value for code in RejectionCode}
    assert str(InvalidEvent(RejectionCode.TOO_LARGE, "70000 bytes")) == "too_large: 70000 bytes"


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_json_round_trip_gives_an_equal_model(event_type: str) -> None:
    event = CATALOGUE.decode(event_type, 1, data(event_type))
    dumped = json.loads(json.dumps(event.model_dump(mode="json")))
    assert CATALOGUE.decode(event_type, 1, dumped) == event


def test_numbers_serialise_as_json_numbers() -> None:
    budget = CATALOGUE.decode("BudgetAllocated", 1, data("BudgetAllocated"))
    figure = CATALOGUE.decode("MonthlyFigureCorrected", 1, data("MonthlyFigureCorrected"))
    deviation = CATALOGUE.decode("BudgetDeviationRecorded", 1, data("BudgetDeviationRecorded"))
    assert budget.model_dump(mode="json")["amount_eur"] == 1289900
    assert type(budget.model_dump(mode="json")["amount_eur"]) is int
    assert figure.model_dump(mode="json")["value"] == 31.25
    assert '"amount_eur":-20440.5' in deviation.model_dump_json()
    assert isinstance(budget.model_dump()["amount_eur"], Decimal)


def test_events_are_frozen() -> None:
    event = CATALOGUE.decode("DialogHeld", 1, data("DialogHeld"))
    assert isinstance(event, DialogHeld)
    with pytest.raises(ValidationError):
        event.summary = "changed"  # type: ignore[misc]


def test_upcaster_turns_v1_data_into_the_v2_model() -> None:
    catalogue = catalogue_with_dialog_v2()
    event = catalogue.decode("DialogHeld", 1, data("DialogHeld"))
    assert isinstance(event, DialogHeldV2)
    assert event.participants == ()
    assert event.held_on == date(2022, 9, 20)
    assert catalogue.latest_version("DialogHeld") == 2
    v2 = data("DialogHeld", participants=["Jobcenter", "HMSI"])
    assert catalogue.decode("DialogHeld", 2, v2) == DialogHeldV2.model_validate(v2)


def test_extending_a_copy_leaves_the_module_catalogue_unchanged() -> None:
    catalogue_with_dialog_v2()
    assert CATALOGUE.latest_version("DialogHeld") == 1
    assert isinstance(CATALOGUE.decode("DialogHeld", 1, data("DialogHeld")), DialogHeld)
    assert rejection("DialogHeld", 2).code == RejectionCode.UNKNOWN_SCHEMA_VERSION


def test_old_version_is_validated_before_upcasting() -> None:
    v1_with_v2_field = data("DialogHeld", participants=["Jobcenter"])
    with pytest.raises(InvalidEvent) as caught:
        catalogue_with_dialog_v2().decode("DialogHeld", 1, v1_with_v2_field)
    assert caught.value.code == RejectionCode.INVALID_DATA
    assert caught.value.reason == "data.participants: is not a known field"


def test_version_without_upcaster_is_unknown() -> None:
    catalogue = CATALOGUE.copy()
    catalogue.register(DialogHeldV2)
    with pytest.raises(InvalidEvent) as caught:
        catalogue.decode("DialogHeld", 1, data("DialogHeld"))
    assert caught.value.code == RejectionCode.UNKNOWN_SCHEMA_VERSION


class AgreementConcludedV2(AgreementConcluded):
    """AgreementConcluded v2: the employment agency is always a party."""

    schema_version: ClassVar[int] = 2


def add_agency_in_place(v1: dict[str, Any]) -> dict[str, Any]:
    """A careless upcaster that changes the nested list it was given."""
    v1["parties"].append("Agentur für Arbeit")
    return v1


def test_upcaster_does_not_mutate_the_input() -> None:
    catalogue = CATALOGUE.copy()
    catalogue.register(AgreementConcludedV2)
    catalogue.register_upcaster("AgreementConcluded", 1, add_agency_in_place)
    raw = data("AgreementConcluded")
    event = catalogue.decode("AgreementConcluded", 1, raw)
    assert isinstance(event, AgreementConcludedV2)
    assert event.parties[-1] == "Agentur für Arbeit"
    assert raw == data("AgreementConcluded")


def test_registering_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="already registered"):
        CATALOGUE.copy().register(DialogHeld)
    with pytest.raises(ValueError, match="already exists"):
        catalogue_with_dialog_v2().register_upcaster("DialogHeld", 1, add_participants)


def test_json_schemas_has_one_entry_per_type() -> None:
    schemas = json_schemas()
    expected = {f"{event_type}.v1.schema.json" for event_type in EXAMPLES}
    assert set(schemas) == expected | {"Envelope.schema.json"}
    assert "value" in schemas["MonthlyFigureReported.v1.schema.json"]["required"]
    assert schemas["Envelope.schema.json"]["additionalProperties"] is False
    assert "DialogHeld.v2.schema.json" in json_schemas(catalogue_with_dialog_v2())


def test_indicator_table_keeps_default_aggregations() -> None:
    assert len(INDICATORS) == 21
    assert known_indicator("integrations") is not None
    assert known_indicator("k3e2") == INDICATORS["k3e2"]
    assert INDICATORS["k3e2"].aggregation == "last" and INDICATORS["k3e2"].share
    assert INDICATORS["k2"].aggregation == "quota" and not INDICATORS["k2"].share
    assert not INDICATORS["k1e2"].non_negative
    assert known_indicator("regional_balance") is None


def test_domain_event_is_abstract() -> None:
    with pytest.raises(TypeError):
        DomainEvent()  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("event_type", "changes", "code"),
    [
        ("FrameworkAgreementConcluded", {"join_deadline": "2018-01-31"}, "period_out_of_range"),
        ("FrameworkAgreementConcluded", {"parties": []}, "invalid_data"),
        ("FrameworkAgreementConcluded", {"land": "NRW"}, "invalid_data"),
        ("FrameworkJoined", {"approved_on": "2018-05-15"}, "period_out_of_range"),
        ("FrameworkJoined", {"approved_by": []}, "invalid_data"),
        ("FrameworkJoined", {"joined_on": 20180514}, "invalid_data"),
        ("FrameworkMeasureReported", {"text": " "}, "invalid_data"),
        ("FrameworkMeasureReported", {"period": "2018-13"}, "invalid_data"),
    ],
)
def test_framework_events_check_their_own_fields(
    event_type: str, changes: dict[str, Any], code: str
) -> None:
    assert rejection(event_type, **changes).code == code


def test_framework_optional_fields_may_be_left_out() -> None:
    for event_type, left_out in (
        ("FrameworkAgreementConcluded", ("signed_on", "join_deadline", "goals")),
        ("FrameworkJoined", ("approved_on", "measures")),
        ("FrameworkMeasureReported", ("period",)),
    ):
        CATALOGUE.decode(event_type, 1, data(event_type, **dict.fromkeys(left_out)))
