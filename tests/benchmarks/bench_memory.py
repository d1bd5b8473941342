"""The broker's memory over a long run (issue 18): `scale.memory` messages (full: 1,000,000)
published to a Redis stream and settled by a consumer group through the services' transport,
never more than `WINDOW` unsettled, as the live ingest sees them; Redis's `used_memory`
(`INFO memory`) and the stream's length sampled every 2 % of the run.

The handler acknowledges at once, so the figures are the broker's retention alone: what the
transport keeps after each acknowledged batch (it trims the stream to the oldest unsettled
entry). Before that trimming, consumed entries stayed: a national year held hundreds of MB.
Goal: the peak of `used_memory` after the first 10 % at most 1.2 times the peak within it, and
the stream empty once everything is settled.
"""

import asyncio
import itertools
import time
from collections.abc import Sequence

import redis.asyncio as aioredis

from infra.broker import Group, RawMessage, create_transport, running
from tests.benchmarks.harness import Config, Report
from tests.benchmarks.national import encode, national_workload
from tests.benchmarks.system import flush_broker

STREAM = "zs.bench.memory"
GROUP = "zs-bench-memory"
WINDOW = 5_000
"""Publishing pauses while this many messages are unsettled (ten batches)."""
CHUNK = 1_000
SAMPLES = 50
FLAT_FACTOR = 1.2


async def used_memory(client: aioredis.Redis) -> int:
    """Redis's `used_memory` in bytes."""
    return int((await client.info("memory"))["used_memory"])


async def phase_memory(config: Config, report: Report) -> None:
    """Publish and settle `scale.memory` messages; sample memory and stream length."""
    total = config.scale.memory
    bodies = [encode(m) for m in itertools.islice(national_workload(40, 1, config.seed), 5_000)]
    await flush_broker(config.broker_url)
    client = aioredis.from_url(config.broker_url)
    transport = create_transport(config.broker_url)
    settled = 0
    progress = asyncio.Condition()

    async def handle(messages: Sequence[RawMessage]) -> None:
        nonlocal settled
        async with progress:
            settled += len(messages)
            progress.notify_all()

    transport.subscribe(Group(STREAM, GROUP, "bench", 500), handle)
    samples: list[tuple[int, int, int]] = [(0, await used_memory(client), 0)]
    every = max(CHUNK, total // SAMPLES)
    started = time.monotonic()
    try:
        async with running(transport):
            for published in range(0, total, CHUNK):
                async with progress:
                    await progress.wait_for(lambda: published - settled < WINDOW)  # noqa: B023
                chunk = [bodies[(published + i) % len(bodies)] for i in range(CHUNK)]
                await transport.publish(STREAM, chunk)
                if (published + CHUNK) % every == 0:
                    samples.append((published + CHUNK, await used_memory(client),
                                    int(await client.xlen(STREAM))))  # fmt: skip
            async with progress:
                await progress.wait_for(lambda: settled >= total)
            elapsed = time.monotonic() - started
            # the last batch's trim follows its acknowledgement: wait for it
            for _ in range(500):
                if int(await client.xlen(STREAM)) == 0:
                    break
                await asyncio.sleep(0.01)
            samples.append((total, await used_memory(client), int(await client.xlen(STREAM))))
    finally:
        await flush_broker(config.broker_url)
        await client.aclose()

    early = [memory for count, memory, _ in samples if 0 < count <= total // 10]
    late = [memory for count, memory, _ in samples if count > total // 10]
    early_peak, late_peak = max(early or [samples[0][1]]), max(late)
    longest = max(length for _, _, length in samples)
    mb = 1024 * 1024
    report.details["memory"] = {
        "messages": total, "window": WINDOW, "seconds": round(elapsed, 1),
        "samples": [{"published": c, "used_memory": m, "xlen": x} for c, m, x in samples],
    }  # fmt: skip
    report.add(
        f"Redis used_memory over {total:,} messages (peak first 10 % / after / end)",
        f"after ≤ {FLAT_FACTOR} x first 10 %",
        f"{early_peak / mb:.1f} / {late_peak / mb:.1f} / {samples[-1][1] / mb:.1f} MB",
        late_peak <= FLAT_FACTOR * early_peak,
        early_peak=early_peak, late_peak=late_peak, end=samples[-1][1],
    )  # fmt: skip
    report.add(
        "stream length while settling (longest / at the end)",
        "end 0",
        f"{longest:,} / {samples[-1][2]:,} entries ({total / elapsed:,.0f} msg/s)",
        samples[-1][2] == 0,
        longest=longest, end=samples[-1][2], rate=total / elapsed,
    )  # fmt: skip
