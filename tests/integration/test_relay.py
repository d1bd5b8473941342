"""The relay against a real store and transport: order and fields on `zs.events`, wake-up by
NOTIFY, resumption from the checkpoint, one publisher at a time."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence

from events.log import RecordedEvent
from events.store import EventStore
from infra.broker import Group, RawMessage, Transport, create_transport, running
from services.pipeline.channels import subscribe_events
from services.pipeline.relay import Relay
from tests.factories import figure_event, unique
from tests.integration.helpers import eventually

CONTRACT_FIELDS = {
    "message_id", "source", "type", "schema_version", "occurred_at", "correlation_id", "data",
    "event_id", "position", "stream_id", "stream_version", "recorded_at", "prev_hash", "hash",
    "principal", "channel",
}  # fmt: skip
NO_FALLBACK_S = 60.0  # so only a notification can wake the relay within a test
SETTLE_S = 30.0


class Seen(list[RecordedEvent]):
    """A projector handler that keeps what arrived, and when."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived_at: list[float] = []

    async def __call__(self, events: Sequence[RecordedEvent]) -> None:
        self.extend(events)
        self.arrived_at.extend(time.monotonic() for _ in events)

    def positions(self) -> list[int]:
        """The positions received, in order."""
        return [event.position for event in self]


@contextlib.asynccontextmanager
async def relaying(*relays: Relay) -> AsyncIterator[None]:
    """Run the relays until the block ends."""
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


async def append(store: EventStore, count: int) -> None:
    """Append `count` events in one batch."""
    await store.append([figure_event() for _ in range(count)])


async def all_events(store: EventStore) -> list[RecordedEvent]:
    """Every recorded event, in position order."""
    return [event async for page in store.read_all() for event in page]


async def checkpoint_is(relay: Relay, position: int) -> bool:
    """Whether the relay's checkpoint is at `position`."""
    return await relay.checkpoint() == position


async def test_recorded_events_arrive_in_position_order_with_every_contract_field(
    store: EventStore, broker_url: str
) -> None:
    channel = f"{unique('t')}.events"
    await append(store, 5)
    await append(store, 2)
    transport = create_transport(broker_url)
    seen, wire = Seen(), list[RawMessage]()

    async def keep(messages: list[RawMessage]) -> None:
        wire.extend(messages)

    subscribe_events(transport, seen, "p1", channel=channel, group=unique("g"))
    transport.subscribe(Group(channel, unique("g"), "raw", batch_size=100), keep)
    relay = Relay(store, transport, channel=channel, page_size=3)  # pages smaller than the log

    async with running(transport), relaying(relay):
        await eventually(lambda: len(seen) == 7)
        await append(store, 1)
        await eventually(lambda: len(seen) == 8 and len(wire) == 8)
        await eventually(lambda: checkpoint_is(relay, 8), "the checkpoint saved after the page")

    assert seen == await all_events(store)
    assert seen.positions() == list(range(1, 9))
    assert all(set(json.loads(message.body)) >= CONTRACT_FIELDS for message in wire)
    assert {json.loads(message.body)["principal"] for message in wire} == {"token:test-source"}
    assert await relay.checkpoint() == 8


async def test_an_append_wakes_the_relay_at_once(store: EventStore, broker_url: str) -> None:
    channel = f"{unique('t')}.events"
    await append(store, 1)
    transport = create_transport(broker_url)
    seen = Seen()
    subscribe_events(transport, seen, "p1", channel=channel, group=unique("g"))
    relay = Relay(store, transport, channel=channel, fallback_poll_s=NO_FALLBACK_S)

    async with running(transport), relaying(relay):
        await eventually(lambda: len(seen) == 1)  # caught up, so it listens
        appended_at = time.monotonic()
        await append(store, 1)
        await eventually(lambda: len(seen) == 2, within_s=5)

    assert seen.arrived_at[1] - appended_at < 1.0


async def test_a_restarted_relay_resumes_from_its_checkpoint(
    store: EventStore, broker_url: str
) -> None:
    channel = f"{unique('t')}.events"
    transport = create_transport(broker_url)
    seen = Seen()
    subscribe_events(transport, seen, "p1", channel=channel, group=unique("g"))
    first, second = (Relay(store, transport, channel=channel, page_size=2) for _ in range(2))

    async with running(transport):
        await append(store, 4)
        async with relaying(first):
            await eventually(lambda: checkpoint_is(first, 4))
        await append(store, 3)  # while no relay runs
        async with relaying(second):
            await eventually(lambda: len(seen) == 7)
            await eventually(lambda: checkpoint_is(second, 7))

    assert seen.positions() == list(range(1, 8))


async def test_two_relays_publish_each_event_once_in_order(
    store: EventStore, broker_url: str
) -> None:
    channel = f"{unique('t')}.events"
    transport = create_transport(broker_url)
    seen = Seen()
    subscribe_events(transport, seen, "p1", channel=channel, group=unique("g"))
    relays = [Relay(store, transport, channel=channel, page_size=2) for _ in range(2)]

    async with running(transport), relaying(*relays):
        for _ in range(5):
            await append(store, 3)
        await eventually(lambda: len(seen) == 15)
        await append(store, 1)  # a marker: a relay publishes in order, so a duplicate comes first
        await eventually(lambda: 16 in seen.positions(), "the marker")

    assert seen.positions() == list(range(1, 17))


class LosesOneCancel:
    """The transport as a library that loses a cancellation leaves it (seen under load): once
    `armed`, a publish waits, and a cancellation there ends the wait as if nothing happened."""

    def __init__(self, transport: Transport) -> None:
        self.transport, self.armed, self.entered = transport, True, asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.transport, name)

    async def publish(self, channel: str, bodies: Sequence[bytes]) -> None:
        if self.armed:
            self.armed = False
            self.entered.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)
        await self.transport.publish(channel, bodies)


async def test_a_relay_stops_when_a_library_lost_its_cancellation(
    store: EventStore, broker_url: str
) -> None:
    transport = create_transport(broker_url)
    losing = LosesOneCancel(transport)
    relay = Relay(store, losing, channel=f"{unique('t')}.events", fallback_poll_s=NO_FALLBACK_S)  # type: ignore[arg-type]
    await append(store, 1)

    async with running(transport):
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.wait_for(losing.entered.wait(), SETTLE_S)
            task.cancel()  # lost in the publish: the relay goes on, saves, then waits
            done, _ = await asyncio.wait([task], timeout=10)
        finally:
            task.cancel()
            await asyncio.wait([task])

    assert task in done, "the relay went on waiting after it was cancelled"
    assert task.cancelled()
    assert await relay.checkpoint() == 1
