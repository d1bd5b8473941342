"""Reading projection checkpoints (`service.checkpoints`): how far each projection has applied
the log. The runner advances them; readers use these functions."""

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

SELECT_CHECKPOINT = (
    "SELECT coalesce(max(position), 0) FROM service.checkpoints WHERE projection = $1"
)
SELECT_CHECKPOINTS = "SELECT projection, position FROM service.checkpoints ORDER BY projection"

Reader: TypeAlias = "asyncpg.Pool | PoolConnectionProxy[asyncpg.Record]"


async def checkpoint(reader: Reader, projection: str) -> int:
    """The position `projection` has applied (0 before its first event)."""
    return int(await reader.fetchval(SELECT_CHECKPOINT, projection))


async def checkpoints(reader: Reader) -> dict[str, int]:
    """Every projection's position, by name."""
    rows = await reader.fetch(SELECT_CHECKPOINTS)
    return {row["projection"]: int(row["position"]) for row in rows}
