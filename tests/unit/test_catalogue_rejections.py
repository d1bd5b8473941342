"""Unit tests of the event catalogue's rejections: a malformed envelope, unknown types and versions,
ill-formed data, negative values, shares, periods, each with its code and reason."""

from decimal import Decimal
from typing import Any

import pytest

from events.catalogue import CATALOGUE, MonthlyFigureReported, parse_envelope
from events.envelope import InvalidEvent, RejectionCode
from tests.unit.catalogue_examples import data, envelope, rejection


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
        ("AgreementConcluded", {"agreement_id": "jc-06437/2022"}, "data.agreement_id"),
        ("FrameworkJoined", {"jobcenter_id": "06/437"}, "data.jobcenter_id"),
        ("TargetAmended", {"effective_from": None}, "data.effective_from"),
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
        ("MonthlyFigureReported", {"value": "0.12345678901234567890"}, "data.value"),
        ("MonthlyFigureReported", {"value": Decimal("1.00000000000000000001")}, "data.value"),
        ("MonthlyFigureReported", {"value": 12345678901234567890123}, "data.value"),
        ("MonthlyFigureReported", {"value": Decimal("1E+15")}, "data.value"),
        ("MonthlyFigureReported", {"value": Decimal("1e999999999")}, "data.value"),
        ("MonthlyFigureReported", {"value": Decimal("0.0000001")}, "data.value"),
        ("MonthlyFigureReported", {"numerator": Decimal("1234567890123456")}, "data.numerator"),
        ("BudgetAllocated", {"amount_eur": "1289900.005"}, "data.amount_eur"),
        ("BudgetAllocated", {"amount_eur": Decimal("0.001")}, "data.amount_eur"),
    ],
)
def test_numbers_outside_the_precision_are_number_precision(
    event_type: str, changes: dict[str, Any], field: str
) -> None:
    rejected = rejection(event_type, **changes)
    assert rejected.code == RejectionCode.NUMBER_PRECISION
    assert rejected.reason.startswith(f"{field}: ")


@pytest.mark.parametrize(
    "value",
    ["999999999999999", "0.000001", "123456789.123456", "1.50000000000000000000", "1E+14", "0E-30"],
)
def test_numbers_at_the_bounds_are_recorded_exactly(value: str) -> None:
    decoded = CATALOGUE.decode(
        "MonthlyFigureReported", 1, data("MonthlyFigureReported") | {"value": Decimal(value)}
    )
    assert isinstance(decoded, MonthlyFigureReported)
    assert decoded.value == Decimal(value)


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


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type_code": "II b"}, "data.type_code"),
        ({"type_code": ""}, "data.type_code"),
        ({"type_code": "IIIabcdef"}, "data.type_code"),
        ({"year": "2024"}, "data.year"),
        ({"year": 2004}, "data.year"),
        ({"type_name": " "}, "data.type_name"),
        ({"typology": None}, "data.typology"),
        ({"typology_version": None}, "data.typology_version"),
    ],
)
def test_a_comparison_type_assignment_checks_its_fields(
    changes: dict[str, Any], field: str
) -> None:
    rejected = rejection("ComparisonTypeAssigned", **changes)

    assert rejected.code == "invalid_data"
    assert field in str(rejected)


def test_an_id_with_a_slash_stored_before_the_rule_still_decodes() -> None:
    """Ids with `/` are refused at ingest (no URL path can carry them); one recorded before
    that rule decodes as stored."""
    stored = data("AgreementConcluded") | {"agreement_id": "jc-06437/2022"}
    decoded = CATALOGUE.decode("AgreementConcluded", 1, stored, stored=True)
    assert decoded.agreement_id == "jc-06437/2022"  # type: ignore[attr-defined]
