"""Projection checkpoints (`service.checkpoints`): every SQL statement on that table is here.

A checkpoint is the position up to which a projection has applied the store; it is changed only
inside the transaction that changes the projection's tables, while the row is locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

ENSURE_CHECKPOINT = (
    "INSERT INTO service.checkpoints (projection) VALUES ($1) ON CONFLICT (projection) DO NOTHING"
)
LOCK_CHECKPOINT = "SELECT position FROM service.checkpoints WHERE projection = $1 FOR UPDATE"
SET_CHECKPOINT = (
    "UPDATE service.checkpoints SET position = $2, updated_at = now() WHERE projection = $1"
)
SELECT_CHECKPOINT = (
    "SELECT coalesce(max(position), 0) FROM service.checkpoints WHERE projection = $1"
)
SELECT_CHECKPOINTS = "SELECT projection, position FROM service.checkpoints ORDER BY projection"
SELECT_STATUS = """
WITH head AS (
    SELECT position, recorded_at FROM store.events ORDER BY position DESC LIMIT 1
)
SELECT p.name, coalesce(c.position, 0) AS checkpoint, coalesce(h.position, 0) AS head,
       coalesce(extract(epoch FROM h.recorded_at - coalesce(
           (SELECT recorded_at FROM store.events WHERE position = c.position),
           (SELECT recorded_at FROM store.events ORDER BY position LIMIT 1)
       )), 0)::float8 AS lag_seconds
FROM unnest($1::text[]) WITH ORDINALITY AS p(name, ordinal)
LEFT JOIN service.checkpoints c ON c.projection = p.name
LEFT JOIN head h ON true
ORDER BY p.ordinal
"""

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
Reader: TypeAlias = "asyncpg.Pool | PoolConnectionProxy[asyncpg.Record]"


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one projection stands against the store's head."""

    name: str
    checkpoint: int
    head: int
    lag_seconds: float = 0.0
    """recorded_at of the head minus recorded_at of the checkpoint's event; 0 when caught up."""

    @property
    def lag(self) -> int:
        """How many recorded events it has not applied yet."""
        return self.head - self.checkpoint


class Checkpoints:
    """The checkpoint store: lock, move and read projections' checkpoints."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    async def lock(connection: Connection, name: str) -> int:
        """Lock the checkpoint row for this transaction (created at 0); its position."""
        await connection.execute(ENSURE_CHECKPOINT, name)
        return int(await connection.fetchval(LOCK_CHECKPOINT, name))

    @staticmethod
    async def set(connection: Connection, name: str, position: int) -> None:
        """Move a checkpoint the transaction holds locked to `position`."""
        await connection.execute(SET_CHECKPOINT, name, position)

    @staticmethod
    async def read(reader: Reader, name: str) -> int:
        """A projection's checkpoint as `reader` (e.g. a snapshot) sees it; 0 when none yet."""
        return int(await reader.fetchval(SELECT_CHECKPOINT, name))

    async def position(self, name: str) -> int:
        """A projection's checkpoint (0 when it has none yet)."""
        return await self.read(self.pool, name)

    async def positions(self) -> dict[str, int]:
        """Every projection's checkpoint, by name."""
        rows = await self.pool.fetch(SELECT_CHECKPOINTS)
        return {row["projection"]: int(row["position"]) for row in rows}

    async def status(self, names: Sequence[str]) -> list[ProjectionStatus]:
        """Checkpoint, head and lag (in events and seconds) of each named projection."""
        rows = await self.pool.fetch(SELECT_STATUS, list(names))
        return [
            ProjectionStatus(
                row["name"],
                row["checkpoint"],
                row["head"],
                row["lag_seconds"] if row["checkpoint"] < row["head"] else 0.0,
            )
            for row in rows
        ]
