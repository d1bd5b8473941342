"""An event recorded as v1 reads back as v2 once a v2 and its upcaster exist."""

from datetime import date

from events.catalogue import CATALOGUE, DialogHeld, parse_envelope
from events.recording import new_event
from events.store import EventStore
from tests.factories import DialogHeldV2, catalogue_with_dialog_v2, unique


async def test_v1_event_in_the_store_reads_back_as_v2(store: EventStore) -> None:
    agreement_id = unique("odw")
    envelope, event = parse_envelope(
        {
            "message_id": unique("dialog"),
            "source": "hmsi",
            "type": "DialogHeld",
            "schema_version": 1,
            "occurred_at": "2022-09-20T10:00:00+02:00",
            "data": {"agreement_id": agreement_id, "held_on": "2022-09-20", "summary": "Q3"},
        }
    )
    await store.append([new_event(envelope, event, "token:test-source", "http")])

    [recorded] = await store.read_stream(f"agreement-{agreement_id}")
    as_v2 = catalogue_with_dialog_v2().decode(recorded.type, recorded.schema_version, recorded.data)

    assert recorded.schema_version == 1
    assert isinstance(as_v2, DialogHeldV2)
    assert (as_v2.held_on, as_v2.participants) == (date(2022, 9, 20), ())
    assert isinstance(CATALOGUE.decode(recorded.type, 1, recorded.data), DialogHeld)
