"""The broker transports against real servers: bodies as published, redelivery, poison, batches,
and a transport that lost its consumer groups.

Its size: the tests every transport passes, on both brokers, and the recovery tests of each
broker share the same handlers (`Collected`, `Failing`, `Poisoned`) and channel helpers."""

import json
from collections.abc import Sequence
from pathlib import Path

from faststream.nats import NatsBroker
from faststream.redis import RedisBroker

from infra.broker import (
    Group,
    RawMessage,
    Transport,
    create_transport,
    repair,
    running,
)
from infra.broker.nats import NatsTransport, stream_name
from infra.broker.redis import RedisTransport
from infra.embedded import embedded_nats_server, embedded_redis_server
from services.pipeline.channels import (
    MAX_DELIVERIES,
    Delivery,
    publish_envelopes,
    publish_rejections,
    subscribe_ingest,
)
from tests.factories import figure_envelope, unique
from tests.integration.helpers import eventually

FAST_REDELIVERY_S = 0.2


class Collected(list[Delivery]):
    """An ingest handler that keeps what it got, and the size of each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []

    async def __call__(self, batch: Sequence[Delivery]) -> None:
        self.extend(batch)
        self.batch_sizes.append(len(batch))

    def bodies(self) -> list[bytes]:
        """The bodies received, in order."""
        return [delivery.body for delivery in self]


class Failing(Collected):
    """An ingest handler that keeps what it got, then raises (say, the database is down)."""

    async def __call__(self, batch: Sequence[Delivery]) -> None:
        await super().__call__(batch)
        raise RuntimeError("cannot settle the batch")


class Poisoned(list[tuple[Delivery, str]]):
    """A poison handler that keeps what it got."""

    async def __call__(self, delivery: Delivery, reason: str) -> None:
        self.append((delivery, reason))


def attempts(received: Collected, body: bytes) -> int:
    """How often `body` was delivered to `received`."""
    return sum(1 for delivery in received if delivery.body == body)


def channel_and_group() -> tuple[str, str]:
    """Names of this test's own: no other test reads or writes them."""
    return f"{unique('t')}.ingest", unique("g")


async def publish_as_faststream(transport: Transport, channel: str, body: bytes) -> None:
    """Publish as an upstream system using FastStream does (on Redis its own `__data__`
    format), through the broker client under the transport (a test of `infra.broker`)."""
    if isinstance(transport, RedisTransport):
        await transport.broker.publish(body, stream=channel)
    else:
        assert isinstance(transport, NatsTransport)
        await transport.broker.publish(body, channel, stream=stream_name(channel))


async def drained(transport: Transport, channel: str, group: str) -> bool:
    """Whether the group has acknowledged everything delivered to it."""
    return await transport.pending(channel, group) == 0


def envelope_bytes() -> bytes:
    """A valid envelope of a fresh jobcenter, as JSON bytes."""
    return json.dumps(figure_envelope(unique("jc"))).encode()


async def test_published_bodies_arrive_exactly_as_published(broker_url: str) -> None:
    channel, group = channel_and_group()
    envelope = envelope_bytes()
    malformed = [b"\xff\xfe not UTF-8", b"{ not JSON", b"x" * 100 * 1024, b""]
    received, poisoned = Collected(), Poisoned()
    transport = create_transport(broker_url)
    subscribe_ingest(transport, received, poisoned, "c1", channel=channel, group=group)

    async with running(transport):
        await publish_envelopes(transport, [envelope, *malformed], channel=channel)
        await publish_as_faststream(transport, channel, envelope)
        await eventually(lambda: len(received) == 6)

    assert received.bodies() == [envelope, *malformed, envelope]
    assert len({delivery.delivery_id for delivery in received}) == 6
    assert {delivery.attempt for delivery in received} == {1}
    assert poisoned == []


async def test_a_failed_batch_is_not_acknowledged_and_another_consumer_gets_it(
    broker_url: str,
) -> None:
    channel, group = channel_and_group()
    bodies = [envelope_bytes() for _ in range(3)]
    failed, received = Failing(), Collected()
    first, second = create_transport(broker_url), create_transport(broker_url)
    for transport, handler, name in ((first, failed, "first"), (second, received, "second")):
        subscribe_ingest(
            transport, handler, Poisoned(), name, channel=channel, group=group,
            redeliver_after_s=FAST_REDELIVERY_S,
        )  # fmt: skip

    async with running(first):
        await publish_envelopes(first, bodies, channel=channel)
        await eventually(lambda: set(failed.bodies()) == set(bodies))
    async with running(second):  # the first consumer is gone: its messages are still pending
        await eventually(lambda: set(received.bodies()) == set(bodies))
        await eventually(lambda: drained(second, channel, group))

    assert {d.delivery_id for d in received} == {d.delivery_id for d in failed}
    assert min(delivery.attempt for delivery in received) >= 2


async def test_a_message_failing_max_deliveries_times_is_poisoned_and_acknowledged(
    broker_url: str,
) -> None:
    channel, group = channel_and_group()
    body = envelope_bytes()
    failed, poisoned = Failing(), Poisoned()
    transport = create_transport(broker_url)
    subscribe_ingest(
        transport, failed, poisoned, "c1", channel=channel, group=group,
        redeliver_after_s=FAST_REDELIVERY_S,
    )  # fmt: skip

    marker = envelope_bytes()
    async with running(transport):
        await publish_envelopes(transport, [body], channel=channel)
        await eventually(lambda: len(poisoned) == 1, within_s=20)
        await eventually(lambda: drained(transport, channel, group))
        # A marker published later that fails too: once it is delivered again, a wrong
        # redelivery of the poisoned message (idle for longer) would have come as well.
        await publish_envelopes(transport, [marker], channel=channel)
        await eventually(lambda: attempts(failed, marker) >= 2, "the marker's redelivery")

    assert [d.attempt for d in failed if d.body == body] == list(range(1, MAX_DELIVERIES + 1))
    [(delivery, reason)] = [(d, reason) for d, reason in poisoned if d.body == body]
    assert (delivery.body, delivery.attempt) == (body, MAX_DELIVERIES + 1)
    assert delivery.delivery_id == failed[0].delivery_id
    assert f"{MAX_DELIVERIES + 1} times" in reason


async def test_a_backlog_arrives_in_batches_from_the_start_of_the_stream(broker_url: str) -> None:
    channel, group = channel_and_group()
    bodies = [json.dumps({"n": n}).encode() for n in range(1000)]
    publisher = create_transport(broker_url)
    await publisher.connect()
    await publish_envelopes(publisher, bodies, channel=channel)  # before any consumer exists
    await publisher.close()
    received = Collected()
    transport = create_transport(broker_url)
    subscribe_ingest(transport, received, Poisoned(), "c1", channel=channel, group=group)

    async with running(transport):
        await eventually(lambda: len(received) == len(bodies))

    assert received.bodies() == bodies
    assert max(received.batch_sizes) > 1
    assert max(received.batch_sizes) <= 500


async def test_a_rejection_is_published_as_plain_json_before_anyone_listens(
    broker_url: str,
) -> None:
    channel = f"{unique('t')}.rejected"
    payload = {"source": "ba-statistik", "code": "not_json", "body": "{ oops", "n": 1}
    publisher = create_transport(broker_url)
    await publisher.connect()
    await publish_rejections(publisher, [payload], channel=channel)  # creates the stream if needed
    await publisher.close()
    wire: list[RawMessage] = []

    async def keep(messages: list[RawMessage]) -> None:
        wire.extend(messages)

    transport = create_transport(broker_url)
    transport.subscribe(Group(channel, unique("g"), "c1", batch_size=10), keep)
    async with running(transport):
        await eventually(lambda: len(wire) == 1)

    assert json.loads(wire[0].body) == payload


async def test_redis_flushed_while_subscribed_gets_its_group_back_and_goes_on(
    tmp_path: Path,
) -> None:
    channel, group = channel_and_group()
    received = Collected()
    with embedded_redis_server(tmp_path) as url:  # its own server: FLUSHALL wipes everything
        transport = create_transport(url)
        assert isinstance(transport.broker, RedisBroker)
        subscribe_ingest(
            transport, received, Poisoned(), "c1", channel=channel, group=group,
            redeliver_after_s=FAST_REDELIVERY_S,
        )  # fmt: skip
        async with running(transport, watch_interval_s=0.2):
            await publish_envelopes(transport, [b"before"], channel=channel)
            await eventually(lambda: len(received) == 1)
            client = await transport.broker.connect()
            await client.flushall()
            await publish_envelopes(transport, [b"after"], channel=channel)
            await eventually(lambda: len(received) == 2)
            groups = await client.xinfo_groups(channel)

    assert received.bodies() == [b"before", b"after"]
    assert [entry["name"] for entry in groups] == [group.encode()]


async def test_redis_repair_restarts_the_subscribers_faststream_stopped_on_nogroup(
    tmp_path: Path,
) -> None:
    channel, group = channel_and_group()
    received = Collected()
    with embedded_redis_server(tmp_path) as url:
        transport = create_transport(url)
        assert isinstance(transport.broker, RedisBroker)
        subscribe_ingest(
            transport, received, Poisoned(), "c1", channel=channel, group=group,
            redeliver_after_s=FAST_REDELIVERY_S,
        )  # fmt: skip
        async with running(transport, watch_interval_s=3600):  # this test repairs by hand
            client = await transport.broker.connect()
            await client.flushall()
            await eventually(lambda: not any(sub.running for sub in transport.broker.subscribers))
            await publish_envelopes(transport, [b"after"], channel=channel)

            repaired = await repair(transport)
            await eventually(lambda: len(received) == 1)

    assert [(g.channel, g.name) for g in repaired] == [(channel, group)]
    assert received.bodies() == [b"after"]


async def test_nats_stream_deleted_while_subscribed_is_declared_again_and_goes_on(
    tmp_path: Path,
) -> None:
    channel, group = channel_and_group()
    received = Collected()
    with embedded_nats_server(tmp_path) as url:
        transport = create_transport(url)
        assert isinstance(transport.broker, NatsBroker)
        subscribe_ingest(transport, received, Poisoned(), "c1", channel=channel, group=group)
        async with running(transport, watch_interval_s=0.2):
            await publish_envelopes(transport, [b"before"], channel=channel)
            await eventually(lambda: len(received) == 1)
            js = transport.broker.connection.jetstream()
            await js.delete_stream(stream_name(channel))
            await publish_envelopes(transport, [b"after"], channel=channel)
            await eventually(lambda: len(received) == 2)

    assert received.bodies() == [b"before", b"after"]


async def test_redis_backlog_left_by_a_dead_consumer_is_taken_over_in_batches(
    tmp_path: Path,
) -> None:
    channel, group = channel_and_group()
    bodies = [json.dumps({"n": n}).encode() for n in range(300)]
    failed, received = Failing(), Collected()
    with embedded_redis_server(tmp_path) as url:
        first, second = create_transport(url), create_transport(url)
        subscribe_ingest(first, failed, Poisoned(), "first", channel=channel, group=group,
                         redeliver_after_s=3600)  # fmt: skip
        subscribe_ingest(second, received, Poisoned(), "second", channel=channel, group=group,
                         redeliver_after_s=FAST_REDELIVERY_S)  # fmt: skip

        publisher = create_transport(url)
        await publisher.connect()
        await publish_envelopes(publisher, bodies, channel=channel)  # before any consumer
        await publisher.close()
        async with running(first):
            await eventually(lambda: set(failed.bodies()) == set(bodies), within_s=60)
        async with running(second):
            await eventually(lambda: set(received.bodies()) == set(bodies), within_s=60)

    assert max(received.batch_sizes) > 1
    assert {delivery.attempt for delivery in received} == {2}


async def test_redis_delivery_counts_cover_entries_other_consumers_hold_between_them(
    tmp_path: Path,
) -> None:
    channel, group = channel_and_group()
    with embedded_redis_server(tmp_path) as url:
        transport = create_transport(url)
        assert isinstance(transport, RedisTransport)
        client = await transport.broker.connect()
        ids = [await client.xadd(channel, {"data": b"x"}) for _ in range(6)]
        await client.xgroup_create(channel, group, id="0")
        await client.xreadgroup(group, "a", {channel: ">"}, count=2)
        await client.xreadgroup(group, "b", {channel: ">"}, count=2)
        await client.xreadgroup(group, "a", {channel: ">"}, count=2)
        await client.xclaim(channel, group, "a", 0, [ids[4]])  # a second delivery
        await client.xclaim(channel, group, "a", 0, [ids[2]])  # taken over from "b"
        counts = await transport.delivery_counts(Group(channel, group, "a", 10), ids)
        await transport.close()

    assert counts == {ids[0]: 1, ids[1]: 1, ids[2]: 2, ids[3]: 1, ids[4]: 2, ids[5]: 1}
