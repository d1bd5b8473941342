"""Unit tests of the catalogue's versions: upcasters from v1 to v2, registration, copies."""

from datetime import date
from typing import Any, ClassVar

import pytest

from events.catalogue import CATALOGUE, AgreementConcluded, DialogHeld
from events.envelope import InvalidEvent, RejectionCode
from tests.factories import DialogHeldV2, add_participants, catalogue_with_dialog_v2
from tests.unit.catalogue_examples import data, rejection


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
