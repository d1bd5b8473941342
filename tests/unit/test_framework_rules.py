"""The ingest's rules for framework agreements, joining and measure reports (no IO)."""

from datetime import date
from typing import Any

import pytest

from events.catalogue import CATALOGUE, DomainEvent
from events.envelope import InvalidEvent
from events.rules import KnownEntities, Sender

TODAY = date(2026, 11, 21)


def event(type: str, **data: Any) -> DomainEvent:
    return CATALOGUE.decode(type, 1, data)


def framework(**data: Any) -> DomainEvent:
    return event("FrameworkAgreementConcluded", **{
        "framework_id": "nrw-inklusiv", "land": "DE-NW", "title": "NRW inklusiv",
        "parties": ["MAGS NRW", "Regionaldirektion NRW", "Städtetag NRW", "LKT NRW"],
        "signed_on": "2018-02-28", "join_deadline": "2018-05-14",
    } | data)  # fmt: skip


def joined(**data: Any) -> DomainEvent:
    return event("FrameworkJoined", **{
        "framework_id": "nrw-inklusiv", "jobcenter_id": "05162", "joined_on": "2018-05-14",
        "approved_by": ["Rhein-Kreis Neuss", "Agentur für Arbeit Mönchengladbach"],
        "approved_on": "2018-05-07", "measures": ["Inklusionskompetenz prüfen"],
    } | data)  # fmt: skip


def reported(**data: Any) -> DomainEvent:
    return event("FrameworkMeasureReported", **{
        "framework_id": "nrw-inklusiv", "jobcenter_id": "05162",
        "measure": "Inklusionskompetenz prüfen", "text": "geprüft",
    } | data)  # fmt: skip


def registered(jobcenter_id: str, land: str) -> DomainEvent:
    return event("JobcenterRegistered", jobcenter_id=jobcenter_id, name="Kreis", land=land,
                 kind="gE")  # fmt: skip


def known(*events: DomainEvent) -> KnownEntities:
    """The fold after `events`, each of which must be accepted."""
    entities = KnownEntities()
    for e in events:
        entities.check(e, TODAY)
        entities.apply(e)
    return entities


def code_of(entities: KnownEntities, e: DomainEvent) -> str | None:
    try:
        entities.check(e, TODAY)
    except InvalidEvent as invalid:
        return str(invalid.code)
    return None


NRW = (registered("05162", "DE-NW"), registered("06437", "DE-HE"), registered("05111", "DE-NW"))


def test_a_jobcenter_joins_and_reports_on_its_measures() -> None:
    entities = known(*NRW, framework(), joined(), reported(), reported(period="2018-09"))

    assert entities.frameworks["nrw-inklusiv"].members == {"05162"}
    assert entities.stream_version("framework-nrw-inklusiv") == 4
    assert entities.jobcenter_of(joined()) == "05162"


@pytest.mark.parametrize(
    ("before", "message", "code"),
    [
        ((), framework(), None),
        ((framework(),), framework(title="again"), "framework_exists"),
        ((), joined(), "unknown_framework"),
        ((), reported(), "unknown_framework"),
        ((framework(),), joined(jobcenter_id="99999"), "unknown_jobcenter"),
        ((framework(), joined()), joined(joined_on="2018-05-10"), "already_joined"),
        ((framework(),), joined(jobcenter_id="06437"), "outside_land"),
        ((framework(),), joined(joined_on="2018-05-15"), "join_deadline_passed"),
        ((framework(),), joined(joined_on="2018-05-14"), None),  # the deadline day itself
        ((framework(join_deadline=None),), joined(joined_on="2019-01-02"), None),
        ((framework(),), joined(joined_on="2018-02-01", approved_on=None), "period_out_of_range"),
        ((framework(signed_on=None),), joined(joined_on="2018-02-01", approved_on=None), None),
        ((framework(),), reported(), "not_a_member"),
        ((framework(), joined()), reported(jobcenter_id="05111"), "not_a_member"),
        ((framework(), joined()), reported(jobcenter_id="99999"), "unknown_jobcenter"),
        ((framework(), joined()), joined(jobcenter_id="05111", joined_on="2018-05-11"), None),
    ],
)
def test_framework_rules(
    before: tuple[DomainEvent, ...], message: DomainEvent, code: str | None
) -> None:
    assert code_of(known(*NRW, *before), message) == code


def test_a_sender_restricted_to_jobcenters_may_join_only_for_them() -> None:
    entities = known(*NRW, framework())
    sender = Sender("kreis-neuss", jobcenters=frozenset({"05162"}))

    entities.check_sender(sender, "kreis-neuss", joined())
    with pytest.raises(InvalidEvent, match="05111"):
        entities.check_sender(sender, "kreis-neuss", joined(jobcenter_id="05111"))
