"""The PostgreSQL event store: append with expected versions, read a stream, read all.

Driver errors never leave this module: callers see `StoreError` and its subclasses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID, uuid4

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.chain import GENESIS_HASH, canonical_json, chain_hash

APPEND_LOCK_KEY = 0x5A53_4150  # "ZSAP": the one lock every append takes
NOTIFY_CHANNEL = "zs_events"
READ_PAGE_SIZE = 1000

EVENT_COLUMNS = (
    "position", "event_id", "stream_id", "stream_version", "type", "schema_version", "source",
    "message_id", "occurred_at", "recorded_at", "correlation_id", "data", "prev_hash", "hash",
)  # fmt: skip
SELECT_EVENTS = f"SELECT {', '.join(EVENT_COLUMNS)} FROM store.events"

LOCK_APPENDS = "SELECT pg_advisory_xact_lock($1)"
SELECT_HEAD = """
SELECT clock_timestamp() AS now, head.position, head.hash, head.recorded_at
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT position, hash, recorded_at FROM store.events ORDER BY position DESC LIMIT 1
) AS head ON true
"""
SELECT_RECORDED_KEYS = """
SELECT e.source, e.message_id, e.event_id, e.position, e.stream_version
FROM store.events AS e
JOIN unnest($1::text[], $2::text[]) AS k(source, message_id)
  ON e.source = k.source AND e.message_id = k.message_id
"""
SELECT_STREAM_VERSIONS = """
SELECT s.stream_id, v.version
FROM unnest($1::text[]) AS s(stream_id)
CROSS JOIN LATERAL (
    SELECT max(stream_version) AS version FROM store.events WHERE stream_id = s.stream_id
) AS v
WHERE v.version IS NOT NULL
"""
NOTIFY_HEAD = "SELECT pg_notify($1, $2::text)"
SELECT_STREAM = (
    f"{SELECT_EVENTS} WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version"
)
SELECT_PAGE = f"{SELECT_EVENTS} WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
SELECT_PAGE_OF_TYPES = (
    f"{SELECT_EVENTS} WHERE position > $1 AND position <= $2 AND type = ANY($4::text[])"
    " ORDER BY position LIMIT $3"
)
SELECT_LAST_POSITION = "SELECT coalesce(max(position), 0) FROM store.events"
SELECT_CONCLUSION = """
SELECT data->>'jobcenter_id' AS jobcenter_id, (data->>'year')::integer AS year
FROM store.events WHERE stream_id = $1 AND type = 'AgreementConcluded' AND position <= $2
"""
SELECT_AGREEMENT_HISTORY = f"""
SELECT {", ".join(EVENT_COLUMNS)}, count(*) OVER () AS total
FROM store.events
WHERE position <= $4 AND (
    stream_id = $1 OR (stream_id = $2 AND data ? 'period' AND left(data->>'period', 4) = $3)
)
ORDER BY position LIMIT $5 OFFSET $6
"""
SELECT_POSITION_AT = "SELECT coalesce(max(position), 0) FROM store.events WHERE recorded_at <= $1"


Reader: TypeAlias = "asyncpg.Pool | PoolConnectionProxy[asyncpg.Record]"
"""Where a read may run: the pool, or a connection holding a snapshot."""


class StoreError(Exception):
    """The event store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The database could not be reached or failed; the operation may be retried."""


class WrongExpectedVersion(StoreError):
    """A stream was not at the version the appender expected: it changed concurrently."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, the append expected {expected}"
        )
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class NewEvent(BaseModel):
    """An event to append: the upstream envelope plus the stream it belongs to."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    type: str
    schema_version: int = 1
    source: str
    message_id: str
    occurred_at: AwareDatetime
    correlation_id: str | None = None
    data: dict[str, Any]
    event_id: UUID = Field(default_factory=uuid4)


class RecordedEvent(NewEvent):
    """An event as the store holds it (the contract, recorded events)."""

    position: int
    stream_version: int
    recorded_at: datetime
    prev_hash: str
    hash: str


class Appended(BaseModel):
    """The fate of one appended event: its position, or the original's when a duplicate."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    position: int
    stream_version: int
    duplicate: bool


class CanonicalJson(str):
    """JSON text already in canonical form: stored as it is, not serialised again."""


def encode_jsonb(value: Any) -> bytes:
    """JSONB binary wire format: version 1, then canonical JSON text."""
    text = value if isinstance(value, CanonicalJson) else canonical_json(value)
    return b"\x01" + text.encode()


def decode_jsonb(raw: bytes) -> Any:
    """Inverse of `encode_jsonb`."""
    return json.loads(raw[1:])


async def init_connection(connection: asyncpg.Connection) -> None:
    """Per-connection set-up: JSONB travels as canonical JSON, decoded to Python values."""
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=encode_jsonb,
        decoder=decode_jsonb,
        format="binary",
    )


async def create_pool(
    database_url: str, *, role: str | None = None, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A connection pool for the store, switched to `role` (SELECT/INSERT only on the log)."""
    settings = {"role": role} if role else {}
    try:
        return await asyncpg.create_pool(
            database_url,
            min_size=min_size,
            max_size=max_size,
            init=init_connection,
            server_settings=settings,
        )
    except (OSError, asyncpg.PostgresError) as error:
        raise StoreUnavailable(f"cannot connect to the event store: {error}") from error


def record_from_row(row: asyncpg.Record) -> RecordedEvent:
    """A stored row as a `RecordedEvent` (the database already enforced its types)."""
    return RecordedEvent.model_construct(**dict(row))


class EventStore:
    """Append-only event log in PostgreSQL with global, gapless, commit-ordered positions."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def append(
        self, events: Sequence[NewEvent], expected_versions: Mapping[str, int] | None = None
    ) -> list[Appended]:
        """Append `events` in one transaction; one `Appended` per event, in the same order.

        `expected_versions` maps a stream to the version it must be at now (0: must not
        exist yet); streams not named accept any version. An event whose (source,
        message_id) is already recorded (or appears earlier in the batch) is not recorded
        again: its `Appended` is the original's, with `duplicate=True`. If every event of a
        stream is a duplicate, that stream's expected version is not checked (a retry).
        Raises `WrongExpectedVersion` (nothing is recorded) or `StoreUnavailable`.
        """
        if not events:
            return []
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                return await self._append_locked(connection, events, expected_versions or {})
        except asyncpg.IntegrityConstraintViolationError as error:
            raise StoreError(f"append refused: {error}") from error
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreUnavailable(f"append failed: {error}") from error

    async def _append_locked(
        self,
        connection: PoolConnectionProxy[asyncpg.Record],
        events: Sequence[NewEvent],
        expected_versions: Mapping[str, int],
    ) -> list[Appended]:
        # Why one lock for every append. Readers follow the log by position ("give me
        # everything after N"), so a position may only become visible once every lower
        # position is visible. A sequence cannot promise that: two transactions draw 7 and
        # 8, the one holding 8 commits first, a reader sees 8, moves its checkpoint past 7
        # and never sees 7 when it commits a moment later. So positions are not drawn from a
        # sequence. Each append first takes this transaction-scoped advisory lock, then
        # reads the current head (in a statement of its own, so its snapshot is taken after
        # the lock was granted and includes the previous holder's commit), numbers its
        # events head+1, head+2, ... and inserts them. The lock is released only when the
        # transaction commits or rolls back, so appends commit one after another, in
        # position order: positions are gapless (a rolled-back append used none) and follow
        # commit order, and a reader that has seen position N has seen every event below N.
        # The same serial section makes the hash chain well defined (each event links to
        # the committed head) and keeps recorded_at non-decreasing along positions, so "as
        # known at time T" is a prefix of the log. The price is one appender at a time; it
        # is paid per transaction, not per event, which is why appends come in batches.
        await connection.execute(LOCK_APPENDS, APPEND_LOCK_KEY)
        head = await connection.fetchrow(SELECT_HEAD)
        assert head is not None  # the query always answers one row
        known = await self._recorded_keys(connection, [(e.source, e.message_id) for e in events])
        rows = await connection.fetch(
            SELECT_STREAM_VERSIONS, sorted({event.stream_id for event in events})
        )
        versions: dict[str, int] = {row["stream_id"]: row["version"] for row in rows}
        fresh_streams = {
            event.stream_id for event in events if (event.source, event.message_id) not in known
        }
        for stream_id, expected in expected_versions.items():
            if stream_id in fresh_streams or stream_id not in {e.stream_id for e in events}:
                actual = versions.get(stream_id, 0)
                if actual != expected:
                    raise WrongExpectedVersion(stream_id, expected, actual)

        position = head["position"] or 0
        prev_hash = head["hash"] or GENESIS_HASH
        recorded_at = max(head["now"], head["recorded_at"] or head["now"])
        records: list[tuple[object, ...]] = []
        outcomes: list[Appended] = []
        for event in events:
            key = (event.source, event.message_id)
            if key in known:
                outcomes.append(known[key].model_copy(update={"duplicate": True}))
                continue
            position += 1
            version = versions.get(event.stream_id, 0) + 1
            versions[event.stream_id] = version
            data_json = canonical_json(event.data)
            digest = chain_hash(
                prev_hash,
                position=position,
                event_id=event.event_id,
                stream_id=event.stream_id,
                stream_version=version,
                type=event.type,
                schema_version=event.schema_version,
                source=event.source,
                message_id=event.message_id,
                occurred_at=event.occurred_at,
                recorded_at=recorded_at,
                correlation_id=event.correlation_id,
                data_json=data_json,
            )
            records.append(
                (position, event.event_id, event.stream_id, version, event.type,
                 event.schema_version, event.source, event.message_id, event.occurred_at,
                 recorded_at, event.correlation_id, CanonicalJson(data_json), prev_hash, digest)
            )  # fmt: skip
            prev_hash = digest
            appended = Appended(
                event_id=event.event_id, position=position, stream_version=version,
                duplicate=False,
            )  # fmt: skip
            known[key] = appended
            outcomes.append(appended)
        if records:
            await connection.copy_records_to_table(
                "events", schema_name="store", records=records, columns=EVENT_COLUMNS
            )
            await connection.execute(NOTIFY_HEAD, NOTIFY_CHANNEL, str(position))
        return outcomes

    async def find_recorded(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Appended]:
        """Which of these (source, message_id) keys are recorded already, and where."""
        if not keys:
            return {}
        async with self.pool.acquire() as connection:
            return await self._recorded_keys(connection, keys)

    @staticmethod
    async def _recorded_keys(
        connection: PoolConnectionProxy[asyncpg.Record], keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Appended]:
        """Which (source, message_id) keys are recorded already."""
        rows = await connection.fetch(
            SELECT_RECORDED_KEYS, [source for source, _ in keys], [mid for _, mid in keys]
        )
        return {
            (row["source"], row["message_id"]): Appended(
                event_id=row["event_id"],
                position=row["position"],
                stream_version=row["stream_version"],
                duplicate=True,
            )
            for row in rows
        }

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        """The events of one stream from `from_version` on, in version order."""
        rows = await self._fetch(SELECT_STREAM, stream_id, from_version)
        return [record_from_row(row) for row in rows]

    async def read_all(
        self,
        after: int = 0,
        *,
        until: int | None = None,
        page_size: int = READ_PAGE_SIZE,
        types: Sequence[str] | None = None,
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Pages of the events after position `after` up to `until` (default: the head),
        only of the given `types` when named.

        Memory stays bounded by one page; each page is a separate query, so a slow consumer
        holds no connection between pages.
        """
        until = await self.last_position() if until is None else until
        query, extra = (SELECT_PAGE, ()) if types is None else (SELECT_PAGE_OF_TYPES, (types,))
        while after < until:
            rows = await self._fetch(query, after, until, page_size, *extra)
            if not rows:
                return
            page = [record_from_row(row) for row in rows]
            yield page
            after = page[-1].position

    async def agreement_history(
        self,
        agreement_id: str,
        until: int,
        limit: int,
        offset: int,
        connection: Reader | None = None,
    ) -> tuple[list[RecordedEvent], int] | None:
        """A page of the agreement's events and its jobcenter's figures for its year, up to
        position `until`, with the total count; None if it was not concluded by then. Reads
        through `connection` (e.g. a snapshot) when given."""
        reader = connection or self.pool
        stream_id = f"agreement-{agreement_id}"
        concluded = await reader.fetchrow(SELECT_CONCLUSION, stream_id, until)
        if concluded is None:
            return None
        rows = await reader.fetch(
            SELECT_AGREEMENT_HISTORY, stream_id, f"figures-{concluded['jobcenter_id']}",
            f"{concluded['year']:04d}", until, limit, offset,
        )  # fmt: skip
        events = [
            RecordedEvent.model_construct(**{column: row[column] for column in EVENT_COLUMNS})
            for row in rows
        ]
        return events, int(rows[0]["total"]) if rows else 0

    @staticmethod
    async def head(connection: Reader) -> int:
        """The last recorded position as `connection` sees it (e.g. in its snapshot)."""
        return int(await connection.fetchval(SELECT_LAST_POSITION))

    async def last_position(self) -> int:
        """The position of the last recorded event (0 for an empty log)."""
        return int(await self._fetchval(SELECT_LAST_POSITION))

    async def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment`: the log as known then."""
        return int(await self._fetchval(SELECT_POSITION_AT, moment))

    async def _fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        try:
            return await self.pool.fetch(query, *args)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreUnavailable(f"read failed: {error}") from error

    async def _fetchval(self, query: str, *args: object) -> Any:
        try:
            return await self.pool.fetchval(query, *args)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreUnavailable(f"read failed: {error}") from error

    async def recorded_at(self, positions: list[int]) -> dict[int, datetime]:
        """When each of `positions` was recorded (positions not in the log are left out): for
        lag in seconds between the head and a checkpoint."""
        rows = await self._fetch(
            "SELECT position, recorded_at FROM store.events WHERE position = ANY($1::bigint[])",
            positions,
        )
        return {int(row["position"]): row["recorded_at"] for row in rows}
