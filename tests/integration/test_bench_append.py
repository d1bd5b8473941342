"""The append benchmark still runs against the current schema (a tiny run, not a measurement).

`make bench` is not part of `make test`; without this, a migration that changes `store.events`
can break the benchmark unnoticed until someone measures.
"""

import pytest
from rich.progress import Progress

from tests.benchmarks.bench_append import BATCH_SIZES, WRITER_NAMES, benchmark


@pytest.mark.slow
async def test_every_writer_appends_at_every_batch_size(server_url: str) -> None:
    with Progress(disable=True) as progress:
        results = await benchmark(server_url, 600, progress)

    assert [result.batch_size for result in results] == list(BATCH_SIZES)
    for result in results:
        assert set(result.rates) == set(WRITER_NAMES)
        assert all(rate > 0 for rate in result.rates.values()), result
