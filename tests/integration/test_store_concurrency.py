"""Concurrent appenders in two processes while a follower reads all from its last position."""

import asyncio
import multiprocessing
import random
from multiprocessing.queues import Queue

import pytest

from events.store import EventStore, create_pool
from events.verify import verify_chain
from infra.roles import DbRole
from tests.factories import figure_event, unique

PROCESSES = 2
APPENDERS_PER_PROCESS = 4
BATCHES_PER_APPENDER = 120


async def append_batches(store: EventStore, own_stream: str, shared_stream: str) -> int:
    """Append random-sized batches to an own stream (with expected versions) and a shared one."""
    appended, version = 0, 0
    for _ in range(BATCHES_PER_APPENDER):
        own = random.randint(0, 3)
        batch = [figure_event(own_stream) for _ in range(own)]
        batch += [figure_event(shared_stream) for _ in range(random.randint(1, 3))]
        await store.append(batch, expected_versions={own_stream: version} if own else None)
        appended, version = appended + len(batch), version + own
    return appended


async def run_appenders(database_url: str, shared_stream: str) -> int:
    """Four appenders in this process, each on its own connection."""
    pool = await create_pool(database_url, role="zs_ingest", max_size=APPENDERS_PER_PROCESS)
    try:
        store = EventStore(pool)
        counts = await asyncio.gather(
            *(
                append_batches(store, unique("agreement"), shared_stream)
                for _ in range(APPENDERS_PER_PROCESS)
            )
        )
        return sum(counts)
    finally:
        await pool.close()


def appender_process(database_url: str, shared_stream: str, results: "Queue[int]") -> None:
    """Entry point of one appender process: reports how many events it appended."""
    results.put(asyncio.run(run_appenders(database_url, shared_stream)))


async def follow(store: EventStore, done: asyncio.Event) -> list[int]:
    """Read all from the last seen position until the appenders are done and all is read."""
    seen: list[int] = []
    while True:
        finished = done.is_set()
        async for page in store.read_all(after=seen[-1] if seen else 0, page_size=50):
            assert page[0].position == (seen[-1] if seen else 0) + 1, "follower saw a gap"
            seen.extend(event.position for event in page)
        if finished:
            return seen
        await asyncio.sleep(0.005)


@pytest.mark.slow
async def test_concurrent_appends_are_gapless_and_follow_commit_order(
    store: EventStore, service_urls: dict[DbRole, str]
) -> None:
    context = multiprocessing.get_context("spawn")
    results: Queue[int] = context.Queue()
    shared = unique("figures")
    processes = [
        context.Process(
            target=appender_process, args=(service_urls[DbRole.INGEST], shared, results)
        )
        for _ in range(PROCESSES)
    ]
    done = asyncio.Event()
    follower = asyncio.create_task(follow(store, done))
    for process in processes:
        process.start()
    await asyncio.to_thread(lambda: [process.join(120) for process in processes])
    done.set()
    seen = await follower

    assert [process.exitcode for process in processes] == [0] * PROCESSES
    appended = sum(results.get(timeout=5) for _ in processes)
    assert seen == list(range(1, appended + 1))
    assert await store.last_position() == appended
    versions = [event.stream_version for event in await store.read_stream(shared)]
    assert versions == list(range(1, len(versions) + 1))
    assert (await verify_chain(store)).intact
