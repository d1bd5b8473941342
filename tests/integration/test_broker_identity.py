"""Source identity on the broker: each source writes to its own channel, which only its broker
user may write (Redis ACL users, NATS user permissions, as the embedded servers set them up), and
the ingest records what a channel carries as that channel's source only."""

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import redis.asyncio as redis
from redis.exceptions import AuthenticationError, NoPermissionError

from events.log import RecordedEvent
from events.rejections import RejectionLog
from events.store import EventStore
from infra.broker import create_transport
from infra.broker.nats import stream_name
from infra.embedded import (
    broker_passwords,
    embedded_nats_server,
    embedded_redis_server,
    source_user,
    with_user,
)
from infra.settings import Settings
from services.bootstrap import Servers, services
from services.pipeline.channels import INGEST_CHANNEL, publish_envelopes, source_channel
from services.pipeline.run import Part
from tests.conftest import TEST_DATA_DIR
from tests.factories import agreement_setup, figure_envelope, unique
from tests.integration.helpers import eventually

SOURCES = ("test-upstream", "other")
"""The sources with channels of their own; the factories' envelopes name `test-upstream`."""


@pytest.fixture(params=["redis", "nats"])
def acl_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An embedded broker of this test's own with its users (URL as the services' user), and
    the data directory that holds their passwords."""
    server = embedded_redis_server if request.param == "redis" else embedded_nats_server
    with server(tmp_path, SOURCES) as url:
        yield url, tmp_path


def as_source(url: str, data_dir: Path, source: str) -> str:
    """`url` logging in as `source`'s broker user."""
    return with_user(url, source_user(source), broker_passwords(data_dir)[source_user(source)])


async def test_a_redis_source_user_may_add_only_to_its_own_stream(tmp_path: Path) -> None:
    with embedded_redis_server(tmp_path, SOURCES) as url:
        client = redis.from_url(as_source(url, tmp_path, "other"))
        anonymous = redis.from_url(url.replace(url.split("//")[1].split("@")[0] + "@", ""))
        try:
            await client.xadd("zs.ingest.other", {"data": b"{}"})
            with pytest.raises(NoPermissionError):
                await client.xadd("zs.ingest.test-upstream", {"data": b"{}"})
            with pytest.raises(NoPermissionError):
                await client.xadd(INGEST_CHANNEL, {"data": b"{}"})
            with pytest.raises(NoPermissionError):
                await client.xrange("zs.ingest.other")
            with pytest.raises(AuthenticationError):
                await anonymous.ping()
        finally:
            await client.aclose()
            await anonymous.aclose()


async def test_a_nats_source_user_may_publish_only_to_its_own_subject(tmp_path: Path) -> None:
    with embedded_nats_server(tmp_path, SOURCES) as url:
        services = await nats.connect(url)
        for channel in (*map(source_channel, SOURCES), INGEST_CHANNEL):
            await services.jetstream().add_stream(name=stream_name(channel), subjects=[channel])
        errors: list[Exception] = []

        async def collect(error: Exception) -> None:
            errors.append(error)

        source = await nats.connect(as_source(url, tmp_path, "other"), error_cb=collect)
        try:
            await source.jetstream().publish("zs.ingest.other", b"{}", timeout=5)
            await source.publish("zs.ingest.test-upstream", b"{}")
            await source.publish(INGEST_CHANNEL, b"{}")
            await source.flush()
            await eventually(lambda: len(errors) >= 2, "two permission errors", within_s=10)
            js = services.jetstream()
            stored = {
                channel: (await js.stream_info(stream_name(channel))).state.messages
                for channel in (*map(source_channel, SOURCES), INGEST_CHANNEL)
            }
        finally:
            await source.close()
            await services.close()

    assert all("permissions violation" in str(e).lower() for e in errors), errors
    assert stored == {"zs.ingest.test-upstream": 0, "zs.ingest.other": 1, INGEST_CHANNEL: 0}


@pytest.fixture
async def ingest_on(
    acl_broker: tuple[str, Path], database_url: str
) -> AsyncIterator[tuple[Servers, Path]]:
    """The broker's servers with this test's database (the ingest is started by each test)."""
    url, data_dir = acl_broker
    yield Servers(database_url, url), data_dir


def ingest_settings(urls: Servers, *, trusted: bool = False) -> Settings:
    """The ingest's settings: a channel per source of `SOURCES`, the shared one as told, and the
    session's data folder (with another, deriving the ingest's login would give it a new
    password, and every later test connecting as that login would be refused)."""
    return Settings(
        database_url=urls.database_url, broker_url=urls.broker_url, redeliver_after_s=1.0,
        broker_sources=",".join(SOURCES), broker_trusted_network=trusted, data_dir=TEST_DATA_DIR,
    )  # fmt: skip


async def publish_as(url: str, channel: str, envelopes: list[dict[str, object]]) -> None:
    """Publish `envelopes` to `channel` over a connection as `url`'s user."""
    transport = create_transport(url)
    await transport.connect()
    try:
        await publish_envelopes(transport, [json.dumps(e).encode() for e in envelopes],
                                channel=channel)  # fmt: skip
    finally:
        await transport.close()


async def recorded(store: EventStore) -> list[RecordedEvent]:
    """Every recorded event."""
    return [event async for page in store.read_all() for event in page]


async def rejected(store: EventStore) -> list[tuple[str | None, str, str]]:
    """(message_id, code, reason) of every rejection."""
    rows, _ = await RejectionLog(store.pool).page(None, None, 1000, 0)
    return [(row.message_id, row.code, row.reason) for row in rows]


async def test_a_source_channel_records_its_source_and_refuses_another(
    ingest_on: tuple[Servers, Path], store: EventStore
) -> None:
    urls, data_dir = ingest_on
    own = agreement_setup(unique("jc"), unique("agr"))
    claiming = figure_envelope("06437")  # names `test-upstream`, sent on `other`'s channel
    async with services(ingest_settings(urls), urls, {Part.INGEST}):
        await publish_as(as_source(urls.broker_url, data_dir, "test-upstream"),
                         "zs.ingest.test-upstream", own)  # fmt: skip
        await publish_as(as_source(urls.broker_url, data_dir, "other"), "zs.ingest.other",
                         [claiming])  # fmt: skip
        await eventually(lambda: count_settled(store, len(own) + 1), "every message settled")

    events = await recorded(store)
    assert [e.message_id for e in events] == [e["message_id"] for e in own]
    assert {(e.principal, e.channel) for e in events} == {
        ("broker:source-test-upstream", "zs.ingest.test-upstream")
    }
    [(message_id, code, reason)] = await rejected(store)
    assert (message_id, code) == (claiming["message_id"], "source_not_allowed")
    assert "'other'" in reason


async def test_the_shared_channel_is_refused_unless_the_network_is_trusted(
    ingest_on: tuple[Servers, Path], store: EventStore
) -> None:
    urls, _ = ingest_on
    [register, *_] = agreement_setup(unique("jc"), unique("agr"))
    async with services(ingest_settings(urls), urls, {Part.INGEST}):
        await publish_as(urls.broker_url, INGEST_CHANNEL, [register])
        await eventually(lambda: count_settled(store, 1), "the message settled")

    [(message_id, code, reason)] = await rejected(store)
    assert (message_id, code) == (register["message_id"], "source_not_allowed")
    assert "zs.ingest.<source>" in reason
    assert await recorded(store) == []

    async with services(ingest_settings(urls, trusted=True), urls, {Part.INGEST}):
        again = {**register, "message_id": unique("msg")}
        await publish_as(urls.broker_url, INGEST_CHANNEL, [again])
        await eventually(lambda: count_settled(store, 2), "the message settled")

    [event] = await recorded(store)
    assert (event.message_id, event.principal, event.channel) == (
        again["message_id"], "broker:trusted-network", INGEST_CHANNEL,
    )  # fmt: skip


async def count_settled(store: EventStore, expected: int) -> bool:
    """Whether `expected` messages are recorded or rejected."""
    return len(await recorded(store)) + len(await rejected(store)) >= expected
