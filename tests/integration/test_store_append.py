"""The one-call append (store.append_events): the hash PostgreSQL computes is chain.py's,
the lock is the one append lock, repeats and versions answer as before, the role stays narrow."""

import asyncio
import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from events.chain import (
    GENESIS_HASH,
    canonical_frame,
    canonical_json,
    chain_hash,
    timestamp_text,
)
from events.log import NewEvent
from events.store import APPEND_LOCK_KEY, NOTIFY_CHANNEL, EventStore, WrongExpectedVersion
from events.verify import recompute_hash, verify_chain
from tests.factories import figure_event, unique
from tests.integration.helpers import eventually, waiting_for_a_lock

TRICKY_TEXT = [
    "", "plain", "Größe €", 'quote " and \\ backslash', "new\nline\ttab\r", "\x01\x1f\x7f",
    "\u2028\u2029", "😀 emoji", "中文", "ﬁ ligature", "</script>", "null", "1e16",
]  # fmt: skip
TRICKY_NUMBERS: list[Any] = [
    0,
    -1,
    2**53 + 1,
    10**30,
    1e16,
    1e-7,
    0.1,
    -0.0,
    1289900.55,
    3.0,
    1.5e300,
    -2.5,
]


def random_text(rng: random.Random) -> str:
    """A string of random code points (no surrogates, no NUL: PostgreSQL text refuses both)."""
    alphabet = [chr(c) for c in (*range(1, 0x80), 0xE4, 0x20AC, 0x2028, 0x1F600, 0x4E2D)]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value: strings, numbers, nulls, booleans, nested lists and objects."""
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rng.choice([*TRICKY_TEXT, random_text(rng)])
    if kind == 1:
        return rng.choice([*TRICKY_NUMBERS, rng.uniform(-1e6, 1e6), rng.randint(-(10**12), 10**12)])
    if kind == 2:
        return rng.choice([None, True, False])
    if kind == 3:
        return random_text(rng)
    if kind in (4, 5):
        return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def random_event(rng: random.Random, stream: str) -> NewEvent:
    """An event with random data, identifiers and time zones."""
    offset = timezone(timedelta(minutes=rng.choice([-720, -90, 0, 60, 330, 840])))
    return NewEvent(
        stream_id=stream,
        type=rng.choice(["MonthlyFigureReported", 'Tüpe "quoted"', random_text(rng) or "x"]),
        schema_version=rng.randint(1, 3),
        source=rng.choice(["ba-statistik", "quelle/ä", random_text(rng)]),
        message_id=unique("msg") + random_text(rng),
        occurred_at=datetime(
            rng.randint(2, 9998),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.randint(0, 999_999),
            tzinfo=offset,
        ),
        correlation_id=rng.choice([None, "", random_text(rng), "corr-1"]),
        principal=rng.choice(["token:a", "broker:source-ä", random_text(rng)]),
        channel=rng.choice(["http", "zs.ingest", 'zs.ingest."q"', random_text(rng)]),
        data={"value": random_value(rng), "nested": random_value(rng), "text": random_text(rng)},
    )


def test_frame_filled_in_is_the_canonical_text_chain_hash_hashes() -> None:
    rng = random.Random(8)
    for index in range(2000):
        event = random_event(rng, unique("s") + random_text(rng))
        position, version = rng.randint(1, 10**12), rng.randint(1, 10**6)
        recorded_at = datetime(2026, 1, 2, 3, 4, 5, index, tzinfo=UTC)
        a, b, c = canonical_frame(**event.model_dump(exclude={"data"}))
        data_json = canonical_json(event.data)
        text = f"[{position}{a}{version}{b}{timestamp_text(recorded_at)}{c}{data_json}]"
        expected = chain_hash(
            GENESIS_HASH, position=position, stream_version=version, recorded_at=recorded_at,
            data_json=data_json, **event.model_dump(exclude={"data"}),
        )  # fmt: skip
        assert chain_hash_of_text(GENESIS_HASH, text) == expected
        assert json.loads(text)[-1] == json.loads(data_json)


def chain_hash_of_text(prev_hash: str, text: str) -> str:
    """sha256(prev_hash || text), the definition chain.py implements."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + text.encode()).hexdigest()


async def test_hashes_computed_in_postgresql_equal_chain_py_for_tricky_events(
    store: EventStore,
) -> None:
    rng = random.Random(18)
    streams = [unique("figures") + random_text(rng) for _ in range(7)]
    for _ in range(12):
        await store.append(
            [random_event(rng, rng.choice(streams)) for _ in range(rng.randint(1, 30))]
        )

    events = [e async for page in store.read_all() for e in page]

    assert len(events) > 100
    assert all(recompute_hash(event) == event.hash for event in events)
    assert [e.prev_hash for e in events] == [GENESIS_HASH] + [e.hash for e in events[:-1]]
    assert (await verify_chain(store)).intact


async def test_append_waits_for_the_append_lock(
    store: EventStore, owner_connection: asyncpg.Connection
) -> None:
    transaction = owner_connection.transaction()
    await transaction.start()
    await owner_connection.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK_KEY)

    pending = asyncio.create_task(store.append([figure_event()]))
    await eventually(lambda: waiting_for_a_lock(owner_connection), "the append at the lock")
    assert not pending.done()

    await transaction.rollback()
    [appended] = await asyncio.wait_for(pending, 10)
    assert appended.position == 1


async def test_repeat_of_a_recorded_event_and_its_twin_answer_the_original(
    store: EventStore,
) -> None:
    original = figure_event()
    [first] = await store.append([original])
    twin = original.model_copy(update={"event_id": figure_event().event_id})

    outcomes = await store.append([figure_event(), twin, twin, figure_event()])

    assert [o.duplicate for o in outcomes] == [False, True, True, False]
    assert [o.position for o in outcomes] == [2, 1, 1, 3]
    assert outcomes[1].event_id == original.event_id == first.event_id


async def test_expected_version_of_a_stream_outside_the_batch_is_checked(
    store: EventStore,
) -> None:
    named = unique("agreement")
    await store.append([figure_event(named)])

    with pytest.raises(WrongExpectedVersion) as refused:
        await store.append([figure_event()], expected_versions={named: 0})

    assert (refused.value.stream_id, refused.value.expected, refused.value.actual) == (named, 0, 1)
    assert await store.last_position() == 1


async def test_stream_versions_continue_per_stream_across_batches(store: EventStore) -> None:
    first, second = unique("figures"), unique("figures")
    await store.append([figure_event(first), figure_event(second), figure_event(first)])

    outcomes = await store.append(
        [figure_event(second), figure_event(first), figure_event(second)],
        expected_versions={first: 2, second: 1},
    )

    assert [(o.position, o.stream_version) for o in outcomes] == [(4, 2), (5, 3), (6, 3)]


async def test_append_notifies_the_new_head(store: EventStore, database_url: str) -> None:
    listener = await asyncpg.connect(database_url)
    heads: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heads.put_nowait(args[3]))
    try:
        await store.append([figure_event(), figure_event()])
        assert await asyncio.wait_for(heads.get(), 5) == "2"
    finally:
        await listener.close()


async def test_append_function_is_the_only_door_into_the_log(
    owner_connection: asyncpg.Connection,
) -> None:
    """It runs with the rights of zs_appender (SELECT and INSERT on the log, no login, no
    member but the owner), with a fixed search path; only the ingest may call it, and no
    service holds INSERT on the log itself."""
    row = await owner_connection.fetchrow(
        "SELECT p.prosecdef, p.proowner::regrole::text AS owner, p.proconfig,"
        " array(SELECT r.rolname FROM pg_roles AS r WHERE r.rolname LIKE 'zs\\_%'"
        "   AND NOT r.rolcanlogin AND has_function_privilege(r.oid, p.oid, 'EXECUTE')"
        "   ORDER BY 1) AS callers,"
        " has_function_privilege('public', p.oid, 'EXECUTE') AS public"
        " FROM pg_proc AS p WHERE p.oid = 'store.append_events'::regproc"
    )

    assert row is not None
    assert (row["prosecdef"], row["owner"], row["public"]) == (True, "zs_appender", False)
    assert "search_path=pg_catalog, pg_temp" in row["proconfig"]
    assert row["callers"] == ["zs_appender", "zs_ingest"]
    privileges = await owner_connection.fetch(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
        " WHERE table_schema = 'store' AND table_name = 'events' AND privilege_type <> 'SELECT'"
        " AND grantee <> (SELECT tableowner FROM pg_tables WHERE tablename = 'events'"
        "                 AND schemaname = 'store')"
    )
    assert [tuple(r) for r in privileges] == [("zs_appender", "INSERT")]
