"""The cascade's event shapes and ingest rules (no IO): an agreement's level decides which of
`jobcenter_id` and `land` it names; only Land and federal agreements have members, registered
ones, and a Land agreement's lie in its Land."""

from datetime import date
from typing import Any

import pytest

from events.catalogue import CATALOGUE, AgreementConcluded, DomainEvent, JobcenterRegistered
from events.envelope import InvalidEvent
from events.rules import KnownEntities, Sender
from tests.unit.catalogue_examples import data, rejection

TODAY = date(2026, 11, 21)


def event(type: str, **fields: Any) -> DomainEvent:
    return CATALOGUE.decode(type, 1, fields)


def known(*events: DomainEvent) -> KnownEntities:
    """The fold after `events`, each of which must be accepted."""
    entities = KnownEntities()
    for e in events:
        entities.check(e, TODAY)
        entities.apply(e)
    return entities


def code_of(entities: KnownEntities, e: DomainEvent) -> str | None:
    """The rejection code of `e` against `entities`, None if it is accepted."""
    try:
        entities.check(e, TODAY)
    except InvalidEvent as invalid:
        return str(invalid.code)
    return None


def registered(jobcenter_id: str, land: str = "DE-HE") -> DomainEvent:
    return event("JobcenterRegistered", jobcenter_id=jobcenter_id, name="Kreis", land=land,
                 kind="zkT")  # fmt: skip


def concluded(agreement_id: str = "he-zkt-2022", **fields: Any) -> DomainEvent:
    return event("AgreementConcluded", **{
        "agreement_id": agreement_id, "year": 2022, "parties": ["HMSI Hessen"],
        "level": "land", "land": "DE-HE",
    } | fields)  # fmt: skip


def members(*jobcenter_ids: str, agreement_id: str = "he-zkt-2022") -> DomainEvent:
    return event("AgreementMembersSet", agreement_id=agreement_id,
                 jobcenter_ids=list(jobcenter_ids))  # fmt: skip


def test_an_agreement_is_a_jobcenters_by_default() -> None:
    agreement = CATALOGUE.decode("AgreementConcluded", 1, data("AgreementConcluded", level=None))
    assert isinstance(agreement, AgreementConcluded)
    assert (agreement.level, agreement.land, agreement.roll_up) == ("jobcenter", None, False)


def test_a_land_and_a_federal_agreement_name_no_jobcenter() -> None:
    land = concluded()
    federal = concluded("bund-2022", level="federal", land=None, parties=["BMAS", "BA"])
    assert isinstance(land, AgreementConcluded) and isinstance(federal, AgreementConcluded)
    assert (land.jobcenter_id, land.land, land.roll_up) == (None, "DE-HE", True)
    assert (federal.jobcenter_id, federal.land, federal.roll_up) == (None, None, True)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"jobcenter_id": None}, "data.jobcenter_id: is required for an agreement of level "
                                 "jobcenter"),
        ({"land": "DE-HE"}, "data.land: is not allowed for an agreement of level jobcenter"),
        ({"level": "land"}, "data.jobcenter_id: is not allowed for an agreement of level land"),
        ({"level": "land", "jobcenter_id": None}, "data.land: is required for an agreement of "
                                                  "level land"),
        ({"level": "federal", "jobcenter_id": None, "land": "DE-HE"},
         "data.land: is not allowed for an agreement of level federal"),
        ({"level": "district"}, "data.level: Input should be 'jobcenter', 'land' or 'federal'"),
        ({"level": "land", "jobcenter_id": None, "land": "Hessen"}, "data.land: String should "
                                                                    "match pattern"),
    ],
)  # fmt: skip
def test_the_level_decides_which_fields_an_agreement_names(
    changes: dict[str, Any], reason: str
) -> None:
    invalid = rejection("AgreementConcluded", **changes)
    assert invalid.code == "invalid_data"
    assert invalid.reason.startswith(reason)


def test_a_jobcenter_has_an_optional_district_key_of_five_digits() -> None:
    jobcenter = CATALOGUE.decode("JobcenterRegistered", 1, data("JobcenterRegistered"))
    assert isinstance(jobcenter, JobcenterRegistered) and jobcenter.district_key == "06437"
    without = CATALOGUE.decode("JobcenterRegistered", 1, data("JobcenterRegistered",
                                                              district_key=None))  # fmt: skip
    assert isinstance(without, JobcenterRegistered) and without.district_key is None
    for bad in ("6437", "064370", "06 437", "O6437"):
        invalid = rejection("JobcenterRegistered", district_key=bad)
        assert (invalid.code, invalid.reason.split(":")[0]) == ("invalid_data", "data.district_key")


@pytest.mark.parametrize(
    ("jobcenter_ids", "reason"),
    [
        ([], "data.jobcenter_ids: Tuple should have at least 1 item"),
        (["06437", "06435", "06437"], "data.jobcenter_ids: 06437 is listed twice"),
        (["06437", " 06435"], "data.jobcenter_ids.1: must be non-blank"),
    ],
)
def test_a_member_list_is_non_empty_and_unique(jobcenter_ids: list[str], reason: str) -> None:
    invalid = rejection("AgreementMembersSet", jobcenter_ids=jobcenter_ids)
    assert invalid.code == "invalid_data"
    assert invalid.reason.startswith(reason)


def test_land_agreement_members_are_registered_jobcenters_of_its_land() -> None:
    entities = known(registered("06437"), registered("06435"), registered("05162", "DE-NW"),
                     concluded())  # fmt: skip
    assert code_of(entities, members("06437", "06435")) is None
    assert code_of(entities, members("06437", "99999")) == "unknown_jobcenter"
    assert code_of(entities, members("06437", "05162")) == "outside_land"
    assert code_of(entities, members("06437", agreement_id="nowhere")) == "unknown_agreement"


def test_a_federal_agreement_takes_members_of_any_land() -> None:
    federal = concluded("bund-2022", level="federal", land=None, parties=["BMAS", "BA"])
    entities = known(registered("06437"), registered("05162", "DE-NW"), federal)
    assert code_of(entities, members("06437", "05162", agreement_id="bund-2022")) is None


def test_a_jobcenters_agreement_has_no_members() -> None:
    jobcenter_agreement = concluded("odw-2022", level="jobcenter", land=None, jobcenter_id="06437")
    entities = known(registered("06437"), jobcenter_agreement)
    assert code_of(entities, members("06437", agreement_id="odw-2022")) == "not_a_roll_up"


def test_members_change_until_the_agreement_is_closed() -> None:
    closed = event("AgreementClosed", agreement_id="he-zkt-2022", closed_on="2023-03-31")
    entities = known(registered("06437"), registered("06435"), concluded(),
                     members("06437"), members("06437", "06435"), closed)  # fmt: skip
    assert code_of(entities, members("06435")) == "agreement_closed"


def test_a_roll_up_agreement_is_no_jobcenters_to_write() -> None:
    entities = known(registered("06437"), concluded())
    sender = Sender("kreis-odenwald", jobcenters=frozenset({"06437"}))
    with pytest.raises(InvalidEvent) as caught:
        entities.check_sender(sender, "kreis-odenwald", members("06437"))
    assert caught.value.code == "source_not_allowed"
