"""Closing the tests' connection pools without hanging the run."""

import asyncio
import warnings

import asyncpg


async def close_pool(pool: asyncpg.Pool, within_s: float = 30.0) -> None:
    """Close `pool`; a connection still not released after `within_s` (seen once under heavy
    load, after a relay test) is terminated with a warning rather than hanging the whole run
    (asyncpg's own close waits for every connection without end)."""
    try:
        await asyncio.wait_for(pool.close(), within_s)  # cancelled, close terminates
    except TimeoutError:
        warnings.warn(f"a connection of the test's pool was not released in {within_s} s; "
                      "terminated", ResourceWarning, stacklevel=1)  # fmt: skip
