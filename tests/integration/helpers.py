"""Helpers shared by the integration tests: waiting, recording through the ingest, wiping a
broker, settings for the pipeline."""

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import nats
import redis.asyncio as redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from events.store import EventStore
from infra.broker import Transport
from infra.settings import Settings
from infra.tokens import TokenVerifier, mint
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.api.app import create_app
from services.bootstrap import Servers
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor
from tests.conftest import TEST_DATA_DIR
from tests.factories import unique

SETTLE_TIMEOUT_S = 120.0
SLOWEST_CHECKPOINT = """
SELECT CASE WHEN count(*) = cardinality($1::text[]) THEN min(position) ELSE 0 END
FROM service.checkpoints WHERE projection = ANY($1::text[])
"""
"""The position every projection has reached (each advances in a transaction of its own)."""
WAITING_FOR_A_LOCK = """
SELECT EXISTS (SELECT FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock')
"""


async def ignore(payloads: list[dict[str, Any]]) -> None:
    """A rejection publisher for tests that do not look at `zs.rejected`."""


async def record(store: EventStore, envelopes: list[dict[str, object]]) -> None:
    """Ingest envelopes (as upstream would) and bring every projection up to date."""
    ingestor = Ingestor(store, ignore, today=lambda: date(2026, 11, 21))
    deliveries = [Delivery(json.dumps(e).encode(), unique("d")) for e in envelopes]
    outcomes = await ingestor.ingest(deliveries)
    assert {o.status for o in outcomes} == {"recorded"}, outcomes
    await ProjectionRunner(store.pool, store, PROJECTIONS).catch_up()


async def slowest_checkpoint(store: EventStore) -> int:
    """The position every projection has reached."""
    names = [projection.name for projection in PROJECTIONS]
    return int(await store.pool.fetchval(SLOWEST_CHECKPOINT, names))


async def caught_up(store: EventStore) -> bool:
    """Whether every projection has reached the store's head."""
    head = await store.last_position()
    return bool(head and await slowest_checkpoint(store) == head)


async def wipe_broker(url: str) -> None:
    """Remove every stream (and so every consumer group) from the broker."""
    if urlsplit(url).scheme == "redis":
        client = redis.from_url(url)
        await client.flushdb()  # only the database of the URL
        await client.aclose()
        return
    connection = await nats.connect(url)
    jetstream = connection.jetstream()
    for stream in await jetstream.streams_info():
        await jetstream.delete_stream(stream.config.name or "")
    await connection.close()


def settings_for(urls: Servers) -> Settings:
    """Settings of services running on these servers, reclaiming quickly, trusting the shared
    channel `zs.ingest` (the tests of per-source channels set their own); each service
    connects as its login derived from the owner's URL (the session's passwords)."""
    return Settings(database_url=urls.database_url, broker_url=urls.broker_url,
                    redeliver_after_s=1.0, data_dir=TEST_DATA_DIR,
                    broker_trusted_network=True)  # fmt: skip


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    what: str = "the condition",
    within_s: float = SETTLE_TIMEOUT_S,
) -> None:
    """Wait until `condition` (plain or awaitable) holds; fail naming `what` after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        result = condition()
        if await result if isinstance(result, Awaitable) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def waiting_for_a_lock(connection: asyncpg.Connection) -> bool:
    """Whether a session of this database waits for a lock another one holds (the marker that
    a statement got as far as the lock; `connection` must see other sessions' activity)."""
    return bool(await connection.fetchval(WAITING_FOR_A_LOCK))


def suspended_in(function: Callable[..., Any], after_binding: str) -> bool:
    """Whether a coroutine of `function` is suspended with its local `after_binding` bound: the
    marker that the code under test has got that far (e.g. has read a value and is polling for
    another), seen without changing that code."""
    code = function.__code__
    return any(
        getattr(referrer, "cr_code", None) is code
        and referrer.cr_frame is not None
        and after_binding in referrer.cr_frame.f_locals
        for referrer in gc.get_referrers(code)
    )


TEST_KEY = Ed25519PrivateKey.generate()
TEST_SOURCE = "test-upstream"
"""The source of the factories' envelopes."""


def token(role: str, **claims: object) -> str:
    """A bearer token for `role`, signed with the tests' key, with extra claims."""
    return mint(TEST_KEY, Settings(), {"sub": f"test-{role}", "role": role, **claims})


def api_app(
    store: EventStore,
    ingestor: Ingestor,
    *,
    transport: Transport | None = None,
    max_lag_events: int | None = None,
) -> FastAPI:
    """The API as the services build it, trusting the tests' key."""
    settings = Settings()
    if max_lag_events is not None:
        settings = settings.model_copy(update={"health_max_lag_events": max_lag_events})
    verifier = TokenVerifier(settings, TEST_KEY.public_key())
    return create_app(store, ingestor, settings, verifier, transport=transport)


class RoleAuth(httpx.Auth):
    """A source's token for `POST /ingest` (as `TEST_SOURCE`), an auditor's for everything
    else, unless the request brings its own: the tokens a test client needs to do what the
    upstream and the auditors do."""

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        if "Authorization" not in request.headers:  # a test's own token stays
            role = "source" if request.url.path == "/ingest" else "auditor"
            claims = {"source": TEST_SOURCE} if role == "source" else {}
            request.headers["Authorization"] = f"Bearer {token(role, **claims)}"
        yield request


def api_client(app: FastAPI, **options: object) -> httpx.AsyncClient:
    """An HTTP client talking to `app` in process, authenticated as `RoleAuth` says."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://zs", auth=RoleAuth(), **options
    )
