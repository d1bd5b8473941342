"""Reading a million events stays within a fixed memory bound (one page at a time).

The reader runs in a child process so that its peak resident memory is its own.
"""

import asyncio
import multiprocessing
import resource
from multiprocessing.queues import Queue

import asyncpg
import pytest

from events.store import EventStore, create_pool
from infra.roles import DbRole

EVENTS = 1_000_000
MEMORY_BOUND_MIB = 32  # peak growth of the reader while it reads all; docs/performance.md states it

BULK_INSERT = """
INSERT INTO store.events
SELECT g, gen_random_uuid(), 'figures-' || (g % 400), g / 400 + 1, 'MonthlyFigureReported', 1,
       'bulk', 'msg-' || g, now(), now(), NULL,
       jsonb_build_object('jobcenter_id', '06437', 'indicator', 'integrations',
                          'period', '2022-07', 'breakdown', 'total', 'value', g % 1000,
                          'status', 'final', 'note', repeat('x', 120)),
       repeat('0', 64), repeat('0', 64), 'token:bulk-loader', 'http'
FROM generate_series(1, $1) AS g
"""


def resident_mib() -> float:
    """Current resident memory of this process (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def read_everything(database_url: str) -> tuple[int, int, float]:
    """Read all events; return (count, last position, peak growth in MiB)."""
    pool = await create_pool(database_url, role="zs_api", max_size=1)
    try:
        store = EventStore(pool)
        await store.last_position()  # connection and codecs warmed up before the baseline
        baseline = peak = resident_mib()
        count, last = 0, 0
        async for page in store.read_all():
            count, last = count + len(page), page[-1].position
            peak = max(peak, resident_mib())  # sampled while the page is held
        return count, last, peak - baseline
    finally:
        await pool.close()


def reader_process(database_url: str, results: "Queue[tuple[int, int, float]]") -> None:
    """Child process entry point."""
    results.put(asyncio.run(read_everything(database_url)))


@pytest.mark.slow
async def test_read_all_of_a_million_events_stays_under_the_memory_bound(
    service_urls: dict[DbRole, str], owner_connection: asyncpg.Connection
) -> None:
    await owner_connection.execute(BULK_INSERT, EVENTS)
    context = multiprocessing.get_context("spawn")
    results: Queue[tuple[int, int, float]] = context.Queue()
    reader = context.Process(target=reader_process, args=(service_urls[DbRole.API], results))

    reader.start()
    count, last, growth_mib = await asyncio.to_thread(results.get, True, 300)
    reader.join(10)

    assert (count, last) == (EVENTS, EVENTS)
    assert growth_mib < MEMORY_BOUND_MIB, f"reader grew by {growth_mib:.1f} MiB"
