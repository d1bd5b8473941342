"""Rebuild workers: the shares of a rebuild's stage folded in processes of their own, each reading
its share of the log and writing it by COPY into the fresh tables on its own connection.

Invariants: the shares of a stage fold independently (`projections.engine.rebuild`), so the
order in which workers write them does not change the rows; each part is written in its own
transaction, as in the rebuilding process. A worker holds one part's events and rows at a time
(and the next part's read), as a rebuild in one process does. The fresh tables were created
(and committed) by the rebuilding process before any worker starts; it indexes them and swaps
them in once every worker is done.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from events.store import EventStore, create_pool
from projections.engine.rebuild import Rebuild, Share, Tables

SHARES_PER_WORKER = 4
"""A stage is dealt into this many shares per worker, so that a worker done early takes another."""


@dataclass(frozen=True)
class Workers:
    """Where rebuild workers connect, and how many run at once."""

    url: str
    """The database URL the workers open (the projector's login)."""
    role: str | None
    """The group role each worker's connections switch to."""
    count: int
    """Worker processes of a runner, shared by its rebuilds running at once; 1: every share in
    the rebuilding process."""


def worker_count(setting: int | None) -> int:
    """The workers a rebuild runs: the setting, else one per core."""
    return setting or os.cpu_count() or 1


def fold_share(workers: Workers, rebuild: Rebuild, share: Share, until: int, tables: Tables) -> int:
    """In a worker process: write one share up to `until` into `tables`; the events it read."""
    return asyncio.run(_fold_share(workers, rebuild, share, until, tables))


async def _fold_share(
    workers: Workers, rebuild: Rebuild, share: Share, until: int, tables: Tables
) -> int:
    pool = await create_pool(workers.url, role=workers.role, min_size=1, max_size=2)
    try:
        store, read = EventStore(pool), 0
        async with pool.acquire() as connection:
            async for events, _ in rebuild.parts(store, until, share):
                async with connection.transaction():
                    await rebuild.write(connection, events, tables)
                read += len(events)
        return read
    finally:
        await pool.close()


class Processes:
    """The worker processes of a runner's rebuilds: started (afresh, not forked from this
    process's event loop and connections) for the first rebuild that needs them, shared by the
    rebuilds running at once, shut down when the last of them is done."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._users = 0

    @asynccontextmanager
    async def using(self) -> AsyncIterator[ProcessPoolExecutor]:
        """The pool, for one rebuild; the last to leave shuts it down (after a failure, without
        waiting for the shares running)."""
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers.count, mp_context=multiprocessing.get_context("spawn")
            )
        executor = self._executor
        self._users += 1
        failed = True
        try:
            yield executor
            failed = False
        finally:
            self._users -= 1
            if self._users == 0 and self._executor is executor:
                self._executor = None
                if failed:  # not waiting for the shares running (their tables are dropped)
                    executor.shutdown(wait=False, cancel_futures=True)
                else:
                    await asyncio.to_thread(executor.shutdown)

    async def fold(
        self,
        rebuild: Rebuild,
        shares: Sequence[Share],
        until: int,
        tables: Tables,
        on_share: Callable[[int], None],
    ) -> None:
        """Fold `shares` in the worker processes, calling `on_share` with each finished share's
        events; on failure, the shares not yet started are dropped."""
        loop = asyncio.get_running_loop()
        async with self.using() as executor:
            futures = [
                loop.run_in_executor(
                    executor, fold_share, self.workers, rebuild, share, until, tables
                )
                for share in shares
            ]
            try:
                for finished in asyncio.as_completed(futures):
                    on_share(await finished)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
