"""Hostile bytes at the ingest: every one is settled as a rejection with its true code and
stored (the rejection path cannot fail), and valid neighbours in the same batch are recorded."""

import json
from datetime import date
from typing import Any

import asyncpg
import pytest

from events.rejections import RejectionLog
from events.store import EventStore
from infra.broker import Transport
from services.bootstrap import Running
from services.pipeline.channels import INGEST_CHANNEL, INGEST_GROUP, Delivery, publish_envelopes
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, envelope, figure_envelope, unique
from tests.integration.helpers import eventually, ignore

TODAY = date(2026, 11, 21)


def raw(template: dict[str, Any], **replace: str) -> bytes:
    """The envelope as JSON text with `"__KEY__"` placeholders replaced by raw JSON fragments
    (so escapes such as a lone surrogate reach the ingest exactly as an upstream sent them)."""
    text = json.dumps(template)
    for key, fragment in replace.items():
        text = text.replace(f'"__{key}__"', fragment)
    return text.encode()


def hostile(jobcenter: str) -> dict[str, tuple[bytes, str]]:
    """Name -> (body, the code it must be rejected with)."""
    figure = figure_envelope(jobcenter)
    nested = b'{"message_id": "deep", "source": "x", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    deep_value: Any = 1
    for _ in range(40):
        deep_value = [deep_value]
    shallow_but_deep = json.dumps(figure | {"data": figure["data"] | {"x": deep_value}}).encode()
    return {
        "nul in message_id": (raw(figure | {"message_id": "__M__"}, M='"m-\\u0000-1"'), "invalid_envelope"),  # noqa: E501
        "surrogate in message_id": (raw(figure | {"message_id": "__M__"}, M='"m-\\ud800"'), "invalid_envelope"),  # noqa: E501
        "nul in a key name": (raw(figure, source='"x"').replace(b'"source"', b'"sou\\u0000rce"', 1), "invalid_envelope"),  # noqa: E501
        "nul in data": (raw(figure | {"data": figure["data"] | {"breakdown": "__B__"}}, B='"to\\u0000tal"'), "invalid_data"),  # noqa: E501
        "nested thousands deep": (nested, "not_json"),
        "nested deeper than allowed": (shallow_but_deep, "invalid_data"),
        "occurred_at overflowing": (json.dumps(figure | {"occurred_at": "9999-12-31T23:59:59-23:59"}).encode(), "invalid_envelope"),  # noqa: E501
        "occurred_at as a bare number text": (json.dumps(figure | {"occurred_at": "1"}).encode(), "invalid_envelope"),  # noqa: E501
        "occurred_at without offset": (json.dumps(figure | {"occurred_at": "2022-10-27T08:00:00"}).encode(), "invalid_envelope"),  # noqa: E501
        "occurred_at before 2000": (json.dumps(figure | {"occurred_at": "1970-01-01T00:00:01Z"}).encode(), "invalid_envelope"),  # noqa: E501
        "date as a number text": (json.dumps(envelope("DialogHeld", {"agreement_id": "a", "held_on": "20220920", "summary": "s"})).encode(), "invalid_data"),  # noqa: E501
        "not UTF-8": (b"\xff\xfe\x00", "not_utf8"),
        "an integer of 5,000 digits": (raw(figure | {"data": figure["data"] | {"value": "__V__"}}, V="7" * 5000), "number_precision"),  # noqa: E501
        "a 23-digit integer": (raw(figure | {"data": figure["data"] | {"value": "__V__"}}, V="1" * 23), "number_precision"),  # noqa: E501
        "an over-precise fraction": (raw(figure | {"data": figure["data"] | {"value": "__V__"}}, V="1.00000000000000000001"), "number_precision"),  # noqa: E501
        "NaN": (raw(figure | {"data": figure["data"] | {"value": "__V__"}}, V="NaN"), "not_json"),
        "a field name twice": (json.dumps(figure).replace('"source": ', '"source": "x", "source": ', 1).encode(), "invalid_envelope"),  # noqa: E501
        "a raw NUL": (json.dumps(figure).replace('"preliminary"', '"prelim\x00inary"').encode(), "not_json"),  # noqa: E501
        "not an object": (b'["a", "list"]', "invalid_envelope"),
    }  # fmt: skip


async def test_each_hostile_message_is_stored_as_a_rejection_with_its_code(
    store: EventStore,
) -> None:
    jobcenter, agreement = unique("jc"), unique("agr")
    ingestor = Ingestor(store, ignore, today=lambda: TODAY)
    await ingestor.ingest([Delivery(json.dumps(e).encode(), unique("d"))
                           for e in agreement_setup(jobcenter, agreement)])  # fmt: skip
    cases = hostile(jobcenter)
    canary = figure_envelope(jobcenter, "2022-08")
    batch = [Delivery(body, unique(name.replace(" ", "-"))) for name, (body, _) in cases.items()]
    batch.append(Delivery(json.dumps(canary).encode(), unique("canary")))

    outcomes = await ingestor.ingest(batch)

    codes = {name: o.code for name, o in zip(cases, outcomes, strict=False)}
    assert codes == {name: code for name, (_, code) in cases.items()}
    assert outcomes[-1].status == "recorded"
    stored, total = await RejectionLog(store.pool).page(None, None, 100, 0)
    assert total == len(cases)
    assert sorted(r.code for r in stored) == sorted(code for _, code in cases.values())
    assert {r.body for r in stored} == {body for body, _ in cases.values()}


async def test_a_known_delivery_id_with_another_body_is_a_distinct_rejection(
    store: EventStore,
) -> None:
    """A broker restarted empty numbers its messages from 1 again: same id, other message."""
    ingestor = Ingestor(store, ignore, today=lambda: TODAY)
    await ingestor.ingest([Delivery(b"{ first", "1@2026-11-30T10:00:00")])
    await ingestor.ingest([Delivery(b"{ first", "1@2026-11-30T10:00:00")])  # a redelivery
    await ingestor.ingest([Delivery(b"{ second", "1@2026-11-30T10:00:00")])

    stored, total = await RejectionLog(store.pool).page(None, None, 100, 0)

    assert total == 2
    assert [r.body for r in stored] == [b"{ first", b"{ second"]


@pytest.mark.parametrize(
    "occurred_at", ["2022-10-27T08:00:00Z", "2022-10-27t08:00:00.123456+02:00"]
)
async def test_rfc3339_times_with_an_offset_are_accepted(
    store: EventStore, occurred_at: str
) -> None:
    jobcenter = unique("jc")
    ingestor = Ingestor(store, ignore, today=lambda: TODAY)
    registration = envelope("JobcenterRegistered", {"jobcenter_id": jobcenter, "name": "J",
                                                    "land": "DE-HE", "kind": "gE"},
                            occurred_at=occurred_at)  # fmt: skip

    [outcome] = await ingestor.ingest([Delivery(json.dumps(registration).encode(), unique("d"))])

    assert outcome.status == "recorded", outcome


async def test_an_unreadable_number_through_the_broker_delays_only_itself(
    pipeline: Running, owner_connection: asyncpg.Connection
) -> None:
    """One envelope with an integer of 5,000 digits (more than Python's `int` reads) among six
    valid ones, published together: the six are recorded, the one is rejected once, nothing is
    both, nothing stays pending."""
    jobcenter = unique("jc")
    setup = [json.dumps(e).encode() for e in agreement_setup(jobcenter, unique("agr"))]
    await publish_envelopes(pipeline.transport, setup)
    await eventually(lambda: recorded_count(owner_connection, len(setup)), "the set-up")
    valid = [figure_envelope(jobcenter, f"2022-{month:02d}") for month in range(1, 7)]
    poison = figure_envelope(jobcenter, "2022-07")
    bodies = [json.dumps(e).encode() for e in valid]
    bodies.insert(3, json.dumps(poison).replace('"value": 64', '"value": ' + "7" * 5000).encode())

    await publish_envelopes(pipeline.transport, bodies)

    await eventually(lambda: recorded_count(owner_connection, len(setup) + 6), "the six valid")
    await eventually(lambda: nothing_pending(pipeline.transport), "every message acknowledged")
    recorded = {row["message_id"] for row in await owner_connection.fetch(
        "SELECT message_id FROM store.events")}  # fmt: skip
    rejections = await owner_connection.fetch("SELECT message_id, code FROM service.rejections")
    assert {e["message_id"] for e in valid} <= recorded
    assert [tuple(r) for r in rejections] == [(None, "number_precision")]
    assert poison["message_id"] not in recorded


async def recorded_count(connection: asyncpg.Connection, count: int) -> bool:
    """Whether at least `count` events are recorded."""
    return int(await connection.fetchval("SELECT count(*) FROM store.events")) >= count


async def nothing_pending(transport: Transport) -> bool:
    """Whether the ingest group holds no unacknowledged message."""
    return await transport.pending(INGEST_CHANNEL, INGEST_GROUP) == 0
