"""The event store against a real PostgreSQL: append, read, versions, idempotency, immutability."""

import itertools
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from events.log import Payload, Selection
from events.store import EventStore, StoreError, StoreUnavailable, WrongExpectedVersion
from events.verify import verify_chain
from tests.factories import figure_event, unique


async def test_append_assigns_consecutive_positions_and_stream_versions(store: EventStore) -> None:
    stream = unique("figures")
    appended = await store.append([figure_event(stream) for _ in range(3)])

    assert [a.position for a in appended] == [1, 2, 3]
    assert [a.stream_version for a in appended] == [1, 2, 3]
    assert not any(a.duplicate for a in appended)
    assert await store.last_position() == 3


async def test_recorded_event_round_trips_every_field(store: EventStore) -> None:
    event = figure_event(value=718, numerator=5, denominator=9)
    [appended] = await store.append([event])

    [recorded] = await store.read_stream(event.stream_id)

    assert recorded.model_dump(include=set(type(event).model_fields)) == event.model_dump()
    assert recorded.position == appended.position
    assert recorded.recorded_at.tzinfo is not None
    assert len(recorded.hash) == 64


async def test_batch_spans_several_streams_in_one_transaction(store: EventStore) -> None:
    first, second = unique("figures"), unique("agreement")
    await store.append([figure_event(first), figure_event(second), figure_event(first)])

    assert [e.stream_version for e in await store.read_stream(first)] == [1, 2]
    assert [e.stream_version for e in await store.read_stream(second)] == [1]


async def test_stale_expected_version_is_refused_and_records_nothing(store: EventStore) -> None:
    stream = unique("agreement")
    await store.append([figure_event(stream)], expected_versions={stream: 0})
    await store.append([figure_event(stream)], expected_versions={stream: 1})

    with pytest.raises(WrongExpectedVersion) as refused:
        await store.append(
            [figure_event(stream), figure_event(unique("figures"))],
            expected_versions={stream: 1},
        )

    assert (refused.value.expected, refused.value.actual) == (1, 2)
    assert stream in str(refused.value)
    assert await store.last_position() == 2


async def test_expected_version_zero_means_the_stream_must_be_new(store: EventStore) -> None:
    stream = unique("agreement")
    await store.append([figure_event(stream)])

    with pytest.raises(WrongExpectedVersion):
        await store.append([figure_event(stream)], expected_versions={stream: 0})


async def test_repeated_message_is_recorded_once_and_answers_the_original(
    store: EventStore,
) -> None:
    original = figure_event()
    [first] = await store.append([original])
    retry = original.model_copy(update={"event_id": figure_event().event_id, "data": {"x": 1}})

    [again] = await store.append([retry])

    assert again.duplicate
    assert (again.position, again.event_id) == (first.position, original.event_id)
    assert again.original == Payload.of(original) != Payload.of(retry)  # read by the append
    assert first.original is None
    assert await store.last_position() == 1
    [recorded] = await store.read_stream(original.stream_id)
    assert recorded.data == original.data


async def test_duplicate_within_one_batch_is_recorded_once(store: EventStore) -> None:
    event = figure_event()
    twin = event.model_copy(update={"event_id": figure_event().event_id})

    outcomes = await store.append([event, twin, figure_event()])

    assert [o.duplicate for o in outcomes] == [False, True, False]
    assert outcomes[1].position == outcomes[0].position
    assert outcomes[1].original == Payload.of(event)
    assert await store.last_position() == 2


async def test_same_message_id_from_another_source_is_not_a_duplicate(store: EventStore) -> None:
    event = figure_event()
    other = event.model_copy(
        update={"source": "jobcenter-fachverfahren", "event_id": figure_event().event_id}
    )

    outcomes = await store.append([event, other])

    assert [o.duplicate for o in outcomes] == [False, False]


async def test_retry_of_a_recorded_batch_skips_the_version_check(store: EventStore) -> None:
    stream = unique("agreement")
    batch = [figure_event(stream)]
    await store.append(batch, expected_versions={stream: 0})

    [again] = await store.append(batch, expected_versions={stream: 0})

    assert again.duplicate


async def test_read_all_pages_in_position_order_from_a_checkpoint(store: EventStore) -> None:
    await store.append([figure_event() for _ in range(25)])

    pages = [page async for page in store.read_all(after=10, page_size=7)]

    assert [len(page) for page in pages] == [7, 7, 1]
    assert [e.position for page in pages for e in page] == list(range(11, 26))
    assert [e.position for p in [x async for x in store.read_all(until=3)] for e in p] == [1, 2, 3]


async def test_position_at_answers_the_log_as_known_then(store: EventStore) -> None:
    await store.append([figure_event(), figure_event()])
    boundary = datetime.now(UTC)
    await store.append([figure_event()])

    assert await store.position_at(boundary) == 2
    assert await store.position_at(boundary - timedelta(days=1)) == 0
    assert await store.position_at(datetime.now(UTC)) == 3


async def test_recorded_at_never_decreases_along_positions(store: EventStore) -> None:
    for _ in range(5):
        await store.append([figure_event(), figure_event()])

    events = [e async for page in store.read_all() for e in page]

    assert all(a.recorded_at <= b.recorded_at for a, b in itertools.pairwise(events))


async def test_chain_links_every_event_to_its_predecessor(store: EventStore) -> None:
    tricky = {"big": 1e16, "small": 0.00001, "money": 1289900.55, "text": "Größe €", "n": [1.0]}
    await store.append([figure_event(**tricky), figure_event(), figure_event()])

    events = [e async for page in store.read_all() for e in page]
    verdict = await verify_chain(store)

    assert events[0].prev_hash == "0" * 64
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert verdict.intact and verdict.checked == 3


@pytest.mark.parametrize("statement", [
    "UPDATE store.events SET data = '{}'::jsonb",
    "DELETE FROM store.events",
    "TRUNCATE store.events",
    "UPDATE store.events SET stream_id = 'x' WHERE position = 1",
])  # fmt: skip
async def test_service_role_cannot_change_the_log(store: EventStore, statement: str) -> None:
    await store.append([figure_event()])

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await store.pool.execute(statement)

    assert await store.last_position() == 1


@pytest.mark.parametrize("statement", [
    "UPDATE store.events SET data = '{}'::jsonb",
    "DELETE FROM store.events WHERE position = 1",
    "TRUNCATE store.events",
])  # fmt: skip
async def test_trigger_refuses_changes_even_for_the_owner(
    store: EventStore, owner_connection: asyncpg.Connection, statement: str
) -> None:
    await store.append([figure_event()])

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner_connection.execute(statement)

    assert await owner_connection.fetchval("SELECT count(*) FROM store.events") == 1


async def test_verify_names_the_row_a_superuser_altered(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    await store.append([figure_event() for _ in range(50)])
    await owner_connection.execute("SET session_replication_role = replica")  # skips triggers
    await owner_connection.execute(
        "UPDATE store.events SET data = jsonb_set(data, '{value}', '999') WHERE position = 37"
    )

    verdict = await verify_chain(store)

    assert (verdict.broken_at, verdict.checked) == (37, 36)
    assert "altered" in (verdict.problem or "")


async def test_reusing_an_event_id_is_refused_with_a_store_error(store: EventStore) -> None:
    event = figure_event()
    await store.append([event])

    with pytest.raises(StoreError, match="event_id") as refused:
        await store.append([figure_event().model_copy(update={"event_id": event.event_id})])

    assert not isinstance(refused.value, StoreUnavailable)


async def test_verify_names_a_removed_row(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    await store.append([figure_event() for _ in range(10)])
    await owner_connection.execute("SET session_replication_role = replica")
    await owner_connection.execute("DELETE FROM store.events WHERE position = 4")

    verdict = await verify_chain(store)

    assert verdict.broken_at == 4
    assert "missing" in (verdict.problem or "")


async def test_a_selection_reads_what_it_matches_in_memory(store: EventStore) -> None:
    jan, feb = datetime(2023, 1, 31, tzinfo=UTC), datetime(2023, 2, 28, tzinfo=UTC)
    events = [
        figure_event("figures-a", period="2023-01", indicator="elb_stock"),
        figure_event("figures-a", period="2024-01").model_copy(update={"occurred_at": feb}),
        figure_event("figures-b", period="2023-12", breakdown="women"),
        figure_event("agreement-x").model_copy(update={"type": "Other", "data": {"n": "1"}}),
        figure_event("figures-b", period="2024-02", indicator="elb_stock"),
    ]
    await store.append(events)
    recorded = [e for page in [p async for p in store.read_all()] for e in page]
    selections = [
        Selection(),
        Selection(stream="figures-a"),
        Selection(types=["MonthlyFigureReported"], until=3),
        Selection(published_by=jan),
        Selection(fields={"indicator": ["elb_stock"], "breakdown": ["total"]}),
        Selection(stream="figures-b", prefixes={"period": ["2023", "2024"]}),
        Selection(prefixes={"period": ["2023"]}, fields={"jobcenter_id": []}),
    ]

    for selection in selections:
        found = await store.select(store.pool, selection)
        assert found == [e for e in recorded if selection.matches(e)], selection
    with pytest.raises(ValueError, match="not a data field"):
        await store.select(store.pool, Selection(fields={"x' OR true --": ["1"]}))
