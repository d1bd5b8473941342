"""The broker keeps only what is not settled yet: a Redis stream is trimmed to the oldest entry a
consumer group has not settled (never further: a pending entry stays), a stream no group reads is
capped, a source that wedges its stream with the largest entry id gets it back once settled, and
the JetStream streams are bounded by their retention."""

import asyncio
from collections.abc import Sequence
from pathlib import Path

import redis.asyncio as aioredis

from infra.broker import Group, RawMessage, create_transport, running
from infra.broker.nats import NatsTransport, stream_name
from infra.embedded import (
    broker_passwords,
    embedded_nats_server,
    embedded_redis_server,
    source_user,
    with_user,
)
from services.pipeline.channels import publish_rejections, source_channel
from tests.factories import unique
from tests.integration.helpers import eventually

LARGEST_ID = "18446744073709551615-18446744073709551615"


class Held:
    """A batch handler that keeps what it got and fails every batch holding a body while that
    body is held (the batch then stays pending)."""

    def __init__(self, held: bytes = b"") -> None:
        self.held = held
        self.received: list[bytes] = []

    async def __call__(self, messages: Sequence[RawMessage]) -> None:
        bodies = [message.body for message in messages]
        if self.held and self.held in bodies:
            raise RuntimeError("held")
        self.received.extend(bodies)


async def test_redis_streams_keep_only_unsettled_entries_and_never_trim_a_pending_one(
    tmp_path: Path,
) -> None:
    channel, group = f"{unique('t')}.ingest", unique("g")
    handler = Held(b"held")
    with embedded_redis_server(tmp_path) as url:
        client = aioredis.from_url(url)
        transport = create_transport(url)
        transport.subscribe(Group(channel, group, "c1", 100, redeliver_after_s=0.3), handler)
        async with running(transport):
            await transport.publish(channel, [b"%d" % n for n in range(1000)])
            await eventually(lambda: len(handler.received) == 1000)
            await eventually(lambda: client_xlen(client, channel, 0), "every entry trimmed")

            await transport.publish(channel, [b"held"])
            [(held_id, _)] = await client.xrange(channel)
            await eventually(lambda: transport.pending(channel, group), "the held entry pending")
            await transport.publish(channel, [b"%d" % n for n in range(1000, 1300)])
            await eventually(lambda: len(handler.received) == 1300)
            await asyncio.sleep(1.0)  # three redelivery periods: trims that must not happen

            assert await client.xrange(channel, min=held_id, max=held_id) != []
            assert (await client.xrange(channel, count=1))[0][0] == held_id
            assert await client.xlen(channel) <= 301
            handler.held = b""
            await eventually(lambda: client_xlen(client, channel, 0), "the held entry trimmed")
        await client.aclose()

    assert sorted(handler.received) == sorted([b"%d" % n for n in range(1300)] + [b"held"])


async def client_xlen(client: aioredis.Redis, channel: str, expected: int) -> bool:
    """Whether the stream holds `expected` entries."""
    return int(await client.xlen(channel)) == expected


async def test_a_redis_stream_no_group_reads_keeps_at_most_max_entries(tmp_path: Path) -> None:
    channel = f"{unique('t')}.rejected"
    with embedded_redis_server(tmp_path) as url:
        transport = create_transport(url, max_entries=10)
        await transport.connect()
        for n in range(25):
            await publish_rejections(transport, [{"n": n}], channel=channel)
        await transport.close()
        client = aioredis.from_url(url)
        entries = await client.xrange(channel)
        await client.aclose()

    assert [fields[b"data"] for _, fields in entries] == [b'{"n":%d}' % n for n in range(15, 25)]


async def test_a_redis_stream_wedged_by_its_source_is_repaired_once_settled(
    tmp_path: Path,
) -> None:
    source, group = "wedger", unique("g")
    channel = source_channel(source)
    handler = Held()
    with embedded_redis_server(tmp_path, [source]) as url:
        password = broker_passwords(tmp_path, [source])[source_user(source)]
        upstream = aioredis.from_url(with_user(url, source_user(source), password))
        transport = create_transport(url)
        transport.subscribe(Group(channel, group, "c1", 100), handler)
        async with running(transport):
            await upstream.xadd(channel, {"data": b"before"})
            await upstream.xadd(channel, {"data": b"wedge"}, id=LARGEST_ID)
            await eventually(lambda: handler.received == [b"before", b"wedge"])

            async def accepted() -> bool:
                try:
                    await upstream.xadd(channel, {"data": b"after"})
                except aioredis.ResponseError:
                    return False
                return True

            await eventually(accepted, "the source's XADD * accepted again")
            await eventually(lambda: handler.received[-1:] == [b"after"])
        await upstream.aclose()

    assert handler.received == [b"before", b"wedge", b"after"]


async def test_jetstream_ingest_streams_keep_only_unacknowledged_messages(
    tmp_path: Path,
) -> None:
    channel, rejected, group = f"zs.ingest.{unique('s')}", f"{unique('t')}.rejected", unique("g")
    handler = Held()
    with embedded_nats_server(tmp_path) as url:
        transport = create_transport(url, max_entries=10)
        assert isinstance(transport, NatsTransport)
        transport.subscribe(Group(channel, group, "c1", 100), handler)
        async with running(transport):
            await transport.publish(channel, [b"%d" % n for n in range(500)])
            await eventually(lambda: len(handler.received) == 500)
            js = transport.jetstream

            async def stored(stream: str, expected: int) -> bool:
                return (await js.stream_info(stream)).state.messages == expected

            await eventually(lambda: stored(stream_name(channel), 0), "the work queue emptied")
            for n in range(25):
                await publish_rejections(transport, [{"n": n}], channel=rejected)
            await eventually(lambda: stored(stream_name(rejected), 10), "rejections capped")
