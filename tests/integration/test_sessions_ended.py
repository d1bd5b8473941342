"""Sessions the server ends (a restart, `pg_terminate_backend`) leave a pool's idle connections
stale: their next call raises asyncpg's `InternalClientError` ("cannot switch to state 12",
MagicStack/asyncpg#1069) more often than an `InterfaceError`. The store calls that a lost
connection (`StoreUnavailable`), the ingest holds its batch for it instead of poisoning messages,
and the API answers 503, never 500. Each check ends sessions several times, as one round may
only meet the other error kinds."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from events.store import EventStore, StoreUnavailable, create_pool
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor
from services.pipeline.settle import is_outage
from tests.factories import agreement_setup, figure_event, unique
from tests.integration.helpers import api_app, api_client, ignore, token
from tests.pools import close_pool

POOL_SIZE = 4
ROUNDS = 5
END_SESSIONS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


@pytest.fixture
async def pool(tests_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool holding `POOL_SIZE` open sessions."""
    pool = await create_pool(tests_url, min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield pool
    await close_pool(pool)


async def cut(owner: asyncpg.Connection, call: Callable[[], Awaitable[object]]) -> list[str]:
    """What `call` gives ('ok' or the error's name) when sessions end under it: `POOL_SIZE`
    loops of calls keep every connection busy while the owner ends the sessions, then each
    connection is called once more. Repeated `ROUNDS` times, with the cut at varying moments."""
    loop, seen = asyncio.get_running_loop(), []

    async def outcome() -> str:
        try:
            await call()
        except Exception as error:  # the test reports any kind it meets
            return type(error).__name__
        return "ok"

    async def busy(until: float) -> str:
        while loop.time() < until:
            if (result := await outcome()) != "ok":
                return result
        return "ok"

    for round_ in range(ROUNDS):
        loops = [asyncio.create_task(busy(loop.time() + 0.1)) for _ in range(POOL_SIZE)]
        await asyncio.sleep(0.01 + 0.005 * (round_ % 5))
        await owner.fetchval(END_SESSIONS)
        seen += await asyncio.gather(*loops)
        seen += [await outcome() for _ in range(POOL_SIZE + 1)]
    return seen


async def test_ended_sessions_are_the_store_being_unavailable(
    pool: asyncpg.Pool, owner_connection: asyncpg.Connection
) -> None:
    store = EventStore(pool)

    reads = await cut(owner_connection, store.last_position)
    appends = await cut(owner_connection, lambda: store.append([figure_event(unique("jc"))]))

    assert set(reads) | set(appends) == {"ok", StoreUnavailable.__name__}
    assert reads[-1] == appends[-1] == "ok"


async def test_the_ingest_holds_its_batch_through_ended_sessions(
    pool: asyncpg.Pool, owner_connection: asyncpg.Connection
) -> None:
    """What the ingest raises for an ended session is an outage: the settle policy holds the
    batch and tries it again, it does not split it and poison its messages."""
    ingestor, judged = Ingestor(EventStore(pool), ignore), []

    async def ingest() -> None:
        body = json.dumps(agreement_setup(unique("jc"), unique("agr"))[0]).encode()
        try:
            await ingestor.ingest([Delivery(body, unique("delivery"))])
        except Exception as error:
            judged.append(is_outage(error))
            raise

    seen = await cut(owner_connection, ingest)

    assert "ok" in seen and judged, "no session ended under a call: the test did not test"
    assert all(judged), seen


class Answered503(Exception):
    """The API answered 503 `store_unavailable`."""


class AnsweredOtherwise(Exception):
    """The API answered an error other than 503 `store_unavailable`."""


async def test_the_api_answers_503_never_500_for_ended_sessions(
    pool: asyncpg.Pool, owner_connection: asyncpg.Connection
) -> None:
    store = EventStore(pool)
    headers = {"Authorization": f"Bearer {token('auditor')}"}
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:

        async def read() -> None:
            answer = await client.get("/agreements", headers=headers)
            if answer.status_code == 503 and answer.json()["error"]["code"] == "store_unavailable":
                raise Answered503
            if answer.status_code != 200:
                raise AnsweredOtherwise(answer.status_code, answer.text)

        seen = await cut(owner_connection, read)

    assert set(seen) == {"ok", Answered503.__name__}
    assert seen[-1] == "ok"
