"""The ingest's judgement against a real store: recorded, duplicate, rejected — and durable."""

import hashlib
import json
from datetime import date
from typing import Any

import asyncpg
import pytest

from events.rejections import KEPT_BODY_BYTES
from events.store import EventStore, WrongExpectedVersion
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor, decode
from tests.factories import agreement_setup, envelope, figure_envelope, unique

TODAY = date(2026, 11, 21)


class Published(list[dict[str, Any]]):
    """Collects what the ingest publishes to zs.rejected, and how many calls it took."""

    calls = 0

    async def __call__(self, payloads: list[dict[str, Any]]) -> None:
        self.calls += 1
        self.extend(payloads)


def deliveries(*items: dict[str, Any] | bytes) -> list[Delivery]:
    """Deliveries with fresh ids, from envelopes or raw bytes."""
    return [
        Delivery(item if isinstance(item, bytes) else json.dumps(item).encode(), unique("d"))
        for item in items
    ]


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def ingestor(store: EventStore, published: Published) -> Ingestor:
    return Ingestor(store, published, today=lambda: TODAY)


@pytest.fixture
def ids() -> tuple[str, str]:
    return unique("jc"), unique("agr")


async def test_a_batch_is_recorded_in_order_and_later_messages_see_earlier_ones(
    ingestor: Ingestor, store: EventStore, ids: tuple[str, str]
) -> None:
    jobcenter, agreement = ids
    batch = [*agreement_setup(jobcenter, agreement), figure_envelope(jobcenter)]

    outcomes = await ingestor.ingest(deliveries(*batch))

    assert [o.status for o in outcomes] == ["recorded"] * 5
    assert [o.position for o in outcomes] == [1, 2, 3, 4, 5]
    assert [e.type for e in await store.read_stream(f"agreement-{agreement}")] == [
        "AgreementConcluded", "TargetSet", "BudgetAllocated",
    ]  # fmt: skip


async def test_repeats_are_duplicates_with_the_original_position(
    ingestor: Ingestor, store: EventStore, ids: tuple[str, str]
) -> None:
    setup = agreement_setup(*ids)
    await ingestor.ingest(deliveries(*setup))
    figure = figure_envelope(ids[0])

    outcomes = await ingestor.ingest(deliveries(setup[2], figure, figure))

    assert [(o.status, o.position) for o in outcomes] == [
        ("duplicate", 3), ("recorded", 5), ("duplicate", 5),
    ]  # fmt: skip
    assert await store.last_position() == 5


BAD_INPUTS = {
    "not_json": b"{ this is not json",
    "not_utf8": b'{"message_id": "\xff\xfe"}',
    "too_large": json.dumps({"blob": "x" * 100_000}).encode(),
    "invalid_envelope": b'["an", "array"]',
    "unknown_type": {"type": "SomethingHappened"},
    "unknown_schema_version": {"schema_version": 7},
    "invalid_data": {"data": {"value": "lots"}},
    "negative_value": {"data": {"value": -3}},
    "numerator_above_denominator": {
        "data": {
            "indicator": "continuous_employment",
            "numerator": 9,
            "denominator": 4,
            "value": 225,
        }
    },
    "period_out_of_range": {"data": {"period": "2004-12"}},
    "period_in_future": {"data": {"period": "2027-01"}},
    "unknown_jobcenter": {"data": {"jobcenter_id": "99999"}},
}


@pytest.mark.parametrize("code", BAD_INPUTS)
async def test_bad_input_is_rejected_with_its_code_stored_and_published(
    code: str, ingestor: Ingestor, store: EventStore, published: Published,
    owner_connection: asyncpg.Connection, ids: tuple[str, str],
) -> None:  # fmt: skip
    await ingestor.ingest(deliveries(*agreement_setup(*ids)))
    bad = BAD_INPUTS[code]
    if isinstance(bad, dict):
        figure = figure_envelope(ids[0])
        bad = json.dumps(figure | {k: v for k, v in bad.items() if k != "data"}
                         | {"data": figure["data"] | bad.get("data", {})}).encode()  # fmt: skip

    [outcome] = await ingestor.ingest([Delivery(bad, "delivery-1")])

    assert (outcome.status, outcome.code) == ("rejected", code)
    assert outcome.reason
    assert await store.last_position() == 4
    stored = await owner_connection.fetchrow("SELECT * FROM service.rejections")
    assert (stored["delivery_id"], stored["code"], bytes(stored["body"])) == (
        "delivery-1", code, bad[:KEPT_BODY_BYTES],
    )  # fmt: skip
    assert (stored["body_size"], bytes(stored["body_sha256"])) == (
        len(bad), hashlib.sha256(bad).digest(),
    )  # fmt: skip
    assert [(p["delivery_id"], p["code"]) for p in published] == [("delivery-1", code)]


async def test_a_batch_s_rejections_are_published_in_one_call(
    ingestor: Ingestor, published: Published
) -> None:
    """One publish (one round trip and one trim of `zs.rejected`) per batch, not per rejection:
    with three or four round trips per rejected message, a mostly hostile stream held the ingest
    near its capacity (the CI fuzz's canaries waited up to 5 s)."""
    bad = [b"\xff", b"{", b"[]", b"null", b"{}"]

    outcomes = await ingestor.ingest(deliveries(*bad))

    assert [o.status for o in outcomes] == ["rejected"] * len(bad)
    assert (published.calls, len(published)) == (1, len(bad))


async def test_agreement_rules_need_what_is_recorded(
    ingestor: Ingestor, ids: tuple[str, str]
) -> None:
    jobcenter, agreement = ids
    setup = agreement_setup(jobcenter, agreement)
    other = unique("agr")

    def agreement_event(type: str, **data: Any) -> dict[str, Any]:
        return envelope(type, {"agreement_id": agreement} | data)

    outcomes = await ingestor.ingest(deliveries(
        *setup,
        setup[1] | {"message_id": unique("again")},
        agreement_event("TargetAmended", target_id="nope", value=1, effective_from="2022-07-01",
                        reason="x"),
        agreement_event("TargetAmended", target_id="integrations-total", value=800,
                        effective_from="2023-01-01", reason="x"),
        agreement_event("BudgetDeviationRecorded", budget_line="nope", period="2022-05",
                        amount_eur=-1000, reason="x"),
        envelope("DialogHeld", {"agreement_id": other, "held_on": "2022-09-01", "summary": "s"}),
        setup[2] | {"message_id": unique("again")},
        agreement_event("AgreementClosed", closed_on="2023-02-01"),
        agreement_event("TargetWithdrawn", target_id="integrations-total", reason="late"),
        agreement_event("BudgetDeviationRecorded", budget_line="training", period="2022-05",
                        amount_eur=-1000, reason="cut"),
    ))  # fmt: skip

    assert [o.code for o in outcomes[4:]] == [
        "agreement_exists", "unknown_target", "period_out_of_range", "unknown_budget_line",
        "unknown_agreement", "target_exists", None, "agreement_closed", None,
    ]  # fmt: skip


async def test_a_retried_batch_stores_each_rejection_once(
    ingestor: Ingestor, owner_connection: asyncpg.Connection
) -> None:
    batch = deliveries(b"garbage", b"more garbage")

    await ingestor.ingest(batch)
    await ingestor.ingest(batch)

    assert await owner_connection.fetchval("SELECT count(*) FROM service.rejections") == 2


async def test_a_concurrent_close_is_seen_before_the_target_is_recorded(
    store: EventStore, published: Published, ids: tuple[str, str]
) -> None:
    jobcenter, agreement = ids
    first, second = Ingestor(store, published), Ingestor(store, published)
    await first.ingest(deliveries(*agreement_setup(jobcenter, agreement)))
    await second.catch_up()
    late_target = envelope("TargetSet", {
        "agreement_id": agreement, "target_id": "ltb", "indicator": "ltb_stock",
        "breakdown": "total", "comparator": "at_most", "value": 2020, "unit": "count",
        "aggregation": "mean",
    })  # fmt: skip
    await first.ingest(
        deliveries(
            envelope("AgreementClosed", {"agreement_id": agreement, "closed_on": "2023-01-31"})
        )
    )

    with pytest.raises(WrongExpectedVersion):
        await second._settle([decode(d) for d in deliveries(late_target)])
    [outcome] = await second.ingest(deliveries(late_target))

    assert outcome.code == "agreement_closed"
