"""Projection checkpoints (`service.checkpoints`) and the versions of the projections' tables
(`service.projection_versions`): every SQL statement on those tables is here.

A checkpoint is the position up to which a projection has applied the store; it is changed only
inside the transaction that changes the projection's tables, while the row is locked. A version
is the one the projection declared when its live tables were created or last swapped in (no row:
version 1, the first one declared); it is changed only in that transaction.
"""

from __future__ import annotations

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


def checkpoint_of(parameter: str) -> str:
    """A scalar subquery: the checkpoint (0 when none yet) of the projection named by the
    query's `parameter` (e.g. `$2`), for a statement that reads it with the rows it stands for."""
    return (
        "(SELECT coalesce(max(position), 0) FROM service.checkpoints "
        f"WHERE projection = {parameter})"
    )


def version_of(parameter: str) -> str:
    """A scalar subquery: the version of the live tables of the projection named by the query's
    `parameter` (`FIRST_VERSION` without a row)."""
    return (
        f"(SELECT coalesce(max(version), {FIRST_VERSION}) FROM service.projection_versions "
        f"WHERE projection = {parameter})"
    )


FIRST_VERSION = 1
"""The version of tables built before versions were recorded (migration 0015)."""
SET_VERSION = """
INSERT INTO service.projection_versions (projection, version) VALUES ($1, $2)
ON CONFLICT (projection) DO UPDATE SET version = $2, updated_at = now()
"""
SELECT_VERSION = "SELECT version FROM service.projection_versions WHERE projection = $1"

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
    version: int = FIRST_VERSION
    """The version its live tables were built by."""
    declared: int = FIRST_VERSION
    """The version its code declares; a different one is rebuilt by the projector."""

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

    @staticmethod
    async def set_version(connection: Connection, name: str, version: int) -> None:
        """Record that the tables the transaction creates or swaps in are of `version`."""
        await connection.execute(SET_VERSION, name, version)

    @staticmethod
    async def read_version(reader: Reader, name: str) -> int:
        """The version of a projection's live tables, as `reader` sees it."""
        found = await reader.fetchval(SELECT_VERSION, name)
        return FIRST_VERSION if found is None else int(found)

    async def version(self, name: str) -> int:
        """The version of a projection's live tables."""
        return await self.read_version(self.pool, name)
