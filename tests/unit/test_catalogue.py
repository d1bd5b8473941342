"""Unit tests of the event catalogue: decoding, the JSON round trip, JSON Schemas, the indicator
table."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from events.catalogue import (
    CATALOGUE,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DialogHeld,
    DomainEvent,
    MonthlyFigureReported,
    json_schemas,
    parse_envelope,
)
from events.indicators import INDICATORS, known_indicator
from services.pipeline.contract import asyncapi_document
from tests.factories import catalogue_with_dialog_v2
from tests.unit.catalogue_examples import EXAMPLES, STREAMS, data, envelope


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


def test_the_asyncapi_document_carries_the_data_schema_of_every_event_type() -> None:
    schemas = asyncapi_document()["components"]["schemas"]

    assert {f"{t}.v1" for t in CATALOGUE.event_types()} <= set(schemas)
    plan = schemas["TargetPlanSet.v1"]
    assert plan["properties"]["plan"]["minItems"] == plan["properties"]["plan"]["maxItems"] == 12
