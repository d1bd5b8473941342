"""POST /ingest and GET /rejections against a real database."""

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from events.store import APPEND_LOCK_KEY, EventStore, create_pool
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, figure_envelope, unique
from tests.integration.helpers import api_app, api_client, eventually, ignore, token


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process."""
    app = api_app(store, Ingestor(store, ignore))
    async with api_client(app) as client:
        yield client


async def test_an_array_of_envelopes_answers_one_outcome_each(client: httpx.AsyncClient) -> None:
    jobcenter = unique("jc")
    batch = [*agreement_setup(jobcenter, unique("agr")), figure_envelope("nowhere")]

    response = await client.post("/ingest", json=batch)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["status"], i["position"]) for i in items[:4]] == [
        ("recorded", 1), ("recorded", 2), ("recorded", 3), ("recorded", 4),
    ]  # fmt: skip
    assert (items[4]["status"], items[4]["code"]) == ("rejected", "unknown_jobcenter")
    assert items[4]["message_id"] == batch[4]["message_id"]


async def test_a_single_envelope_and_its_repeat(client: httpx.AsyncClient) -> None:
    [register, *_] = agreement_setup(unique("jc"), unique("agr"))

    first = await client.post("/ingest", json=register)
    again = await client.post("/ingest", json=register)

    assert first.json()["items"][0]["status"] == "recorded"
    assert again.json()["items"][0] | {"status": "x"} == first.json()["items"][0] | {"status": "x"}
    assert again.json()["items"][0]["status"] == "duplicate"


async def test_a_body_that_is_not_json_is_rejected_and_kept(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest", content=b"\xff not json at all")

    assert response.json()["items"][0]["code"] == "not_utf8"
    [row] = (await client.get("/rejections")).json()["items"]
    assert (row["body_encoding"], row["code"]) == ("base64", "not_utf8")


async def test_more_than_a_thousand_envelopes_is_refused_whole(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    jobcenter = unique("jc")
    batch = [figure_envelope(jobcenter) for _ in range(1001)]

    response = await client.post("/ingest", json=batch)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert await store.last_position() == 0
    assert (await client.get("/rejections")).json()["count"] == 1


async def test_rejections_filter_by_source_and_time_and_page(client: httpx.AsyncClient) -> None:
    bad = [figure_envelope("nowhere", source=s) for s in ("a", "b", "a", "a")]
    bad = [e | {"source": e["data"].pop("source")} for e in bad]
    await client.post("/ingest", json=bad)

    by_source = (await client.get("/rejections", params={"source": "a", "limit": 2})).json()
    future = (await client.get("/rejections", params={"since": "2999-01-01T00:00:00Z"})).json()

    assert by_source["count"] == 3
    assert [row["message_id"] for row in by_source["items"]] == [
        bad[0]["message_id"], bad[2]["message_id"],
    ]  # fmt: skip
    assert json.loads(by_source["items"][0]["body"])["source"] == "a"
    assert future == {"items": [], "count": 0}


async def test_a_rejection_keeps_at_most_64_kib_of_the_body_with_its_size_and_digest(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"blob": "' + b"x" * 200_000 + b'"}'

    await client.post("/ingest", content=body)
    [row] = (await client.get("/rejections")).json()["items"]

    assert row["code"] == "too_large"
    assert len(row["body"]) == 64 * 1024
    assert (row["body_size"], row["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


async def test_every_error_has_the_contract_s_shape(client: httpx.AsyncClient) -> None:
    answers = [
        await client.get("/no/such/route"),
        await client.delete("/agreements"),
        await client.get("/figures", params={"limit": "10" * 40}),
        await client.get("/agreements/%00"),
        await client.post("/ingest", content=b"x" * (9 * 1024 * 1024)),
        await client.get("/rejections", params={"offset": 2**75}),
        await client.get("/attainment", params={"year": -(2**36)}),
    ]

    assert [a.status_code for a in answers] == [404, 405, 422, 422, 413, 422, 422]
    assert all(set(a.json()["error"]) == {"code", "message"} for a in answers)


@pytest.mark.parametrize(
    ("headers", "path", "status"),
    [
        ({}, "/agreements", 401),
        ({"Authorization": "Bearer not-a-jwt"}, "/agreements", 401),
        ({"Authorization": f"Bearer {token('source', source='x')}"}, "/agreements", 403),
        ({"Authorization": f"Bearer {token('reader')}"}, "/rejections", 403),
        ({}, "/live", 200),
    ],
)
async def test_who_may_call_what(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, status: int
) -> None:
    async with httpx.AsyncClient(transport=client._transport, base_url="http://zs") as bare:
        answer = await bare.get(path, headers=headers)

    assert answer.status_code == status


async def test_a_source_writes_only_as_itself(client: httpx.AsyncClient, store: EventStore) -> None:
    jobcenter = unique("jc")
    register = figure_envelope(jobcenter) | {"type": "JobcenterRegistered", "data": {
        "jobcenter_id": jobcenter, "name": "J", "land": "DE-HE", "kind": "gE"}}  # fmt: skip
    forged = register | {"message_id": unique("m"), "source": "ba-statistik"}
    sender = {"Authorization": f"Bearer {token('source', source='zv-portal')}"}
    async with httpx.AsyncClient(transport=client._transport, base_url="http://zs") as bare:
        answer = await bare.post("/ingest", json=[forged], headers=sender)

    assert answer.json()["items"][0]["code"] == "source_not_allowed"
    assert await store.last_position() == 0


async def test_a_known_message_with_another_payload_is_an_idempotency_conflict(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    jobcenter = unique("jc")
    register = figure_envelope(jobcenter) | {"type": "JobcenterRegistered", "data": {
        "jobcenter_id": jobcenter, "name": "J", "land": "DE-HE", "kind": "gE"}}  # fmt: skip
    forged = register | {"data": register["data"] | {"land": "DE-BY"}}

    first = (await client.post("/ingest", json=register)).json()["items"][0]
    again = (await client.post("/ingest", json=register)).json()["items"][0]
    conflict = (await client.post("/ingest", json=forged)).json()["items"][0]

    assert (first["status"], again["status"]) == ("recorded", "duplicate")
    assert (conflict["status"], conflict["code"]) == ("rejected", "idempotency_conflict")
    assert await store.last_position() == 1


def figure_with_value(jobcenter: str, fragment: str) -> bytes:
    """A figure envelope with its value as the raw JSON `fragment`."""
    text = json.dumps(figure_envelope(jobcenter))
    return text.replace('"value": 64', f'"value": {fragment}').encode()


@pytest.mark.parametrize(
    ("fragment", "code"),
    [
        ("1" * 4301, "number_precision"),
        ("12345678901234567890123", "number_precision"),
        ("1.00000000000000000001", "number_precision"),
        ("[" * 1000 + "1" + "]" * 1000, "not_json"),
        ("[" * 100 + "1" + "]" * 100, "invalid_data"),
    ],
)
async def test_unreadable_numbers_and_nesting_are_rejected_and_kept(
    client: httpx.AsyncClient, store: EventStore, fragment: str, code: str
) -> None:
    [register, *_] = agreement_setup(jobcenter := unique("jc"), unique("agr"))
    await client.post("/ingest", json=register)
    body = figure_with_value(jobcenter, fragment)

    alone = await client.post("/ingest", content=body)
    among = await client.post("/ingest", content=b"[" + body + b"," + body.replace(
        fragment.encode(), b"17") + b"]")  # fmt: skip

    assert alone.status_code == among.status_code == 200
    assert (alone.json()["items"][0]["status"], alone.json()["items"][0]["code"]) == (
        "rejected", code)  # fmt: skip
    if code == "not_json":  # too deep to find where the first element ends: one envelope
        assert [i["code"] for i in among.json()["items"]] == ["not_json"]
    else:
        assert [i["status"] for i in among.json()["items"]] == ["rejected", "recorded"]
        assert among.json()["items"][0]["code"] == code
    rejections = (await client.get("/rejections")).json()["items"]
    assert [r["code"] for r in rejections] == [code, code]
    assert hashlib.sha256(body).hexdigest() in {r["body_sha256"] for r in rejections}
    assert await store.last_position() == (1 if code == "not_json" else 2)


async def test_a_number_is_recorded_as_sent_when_within_the_precision(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    [register, *_] = agreement_setup(jobcenter := unique("jc"), unique("agr"))
    await client.post("/ingest", json=register)

    answer = await client.post("/ingest", content=figure_with_value(jobcenter, "0.000001"))

    assert answer.json()["items"][0]["status"] == "recorded"
    [event] = [e async for page in store.read_all(after=1) for e in page]
    assert Decimal(str(event.data["value"])) == Decimal("0.000001")


RACERS = 30
WAITING_AT_THE_APPEND_LOCK = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND NOT granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""  # pg_locks, not pg_stat_activity: a transaction sees the latter as at its first look


@pytest.mark.parametrize("same_payload", [False, True])
async def test_posts_of_one_message_id_racing_to_the_append_are_one_recorded_and_the_rest_settled(
    tests_url: str, owner_connection: asyncpg.Connection, same_payload: bool
) -> None:
    """Thirty POSTs of one message id at once, held at the append lock until every one of them
    waits there, so each has looked the key up and found nothing recorded: the append records
    one; each other is told what the append found recorded, a duplicate (same payload) or an
    `idempotency_conflict` kept as a rejection, never a duplicate of another payload."""
    store = EventStore(await create_pool(tests_url, max_size=RACERS + 2))
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        [register, *_] = agreement_setup(jobcenter := unique("jc"), unique("agr"))
        await client.post("/ingest", json=register)
        original = figure_envelope(jobcenter, "2022-01")
        variants = [
            original | {"data": original["data"] | {"value": 0 if same_payload else n}}
            for n in range(RACERS)
        ]
        async with owner_connection.transaction():
            await owner_connection.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK_KEY)
            posts = asyncio.gather(*(client.post("/ingest", json=v) for v in variants))
            await eventually(lambda: all_waiting(owner_connection), f"{RACERS} appends at the lock")
        answers = await posts
        rejections = (await client.get("/rejections", params={"limit": 500})).json()
        head = await store.last_position()
    await store.pool.close()

    items = [answer.json()["items"][0] for answer in answers]
    others = "duplicate" if same_payload else "rejected"
    assert sorted(i["status"] for i in items) == sorted(["recorded"] + [others] * (RACERS - 1))
    if not same_payload:
        assert {i["code"] for i in items if i["status"] == "rejected"} == {
            "idempotency_conflict"}  # fmt: skip
    assert len({i["position"] for i in items if i["status"] != "rejected"}) == 1
    assert rejections["count"] == (0 if same_payload else RACERS - 1)
    assert head == 2


async def all_waiting(connection: asyncpg.Connection) -> bool:
    """Whether every racing append waits for the append lock."""
    return bool(await connection.fetchval(WAITING_AT_THE_APPEND_LOCK) == RACERS)
