"""The PostgreSQL event store: append with expected versions, read a stream, read all.

Driver errors never leave this module: callers see `StoreError` and its subclasses.

Its size: every statement on `store.events` lives here (one owner per table), beside the
lock that orders positions; splitting reads from appends would scatter that table's SQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID, uuid4

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.catalogue import FIGURE_TYPES
from events.chain import canonical_frame, canonical_json

APPEND_LOCK_KEY = 0x5A53_4150  # "ZSAP": the one lock every append takes
NOTIFY_CHANNEL = "zs_events"
READ_PAGE_SIZE = 1000

EVENT_COLUMNS = (
    "position", "event_id", "stream_id", "stream_version", "type", "schema_version", "source",
    "message_id", "occurred_at", "recorded_at", "correlation_id", "principal", "channel", "data",
    "prev_hash", "hash",
)  # fmt: skip
SELECT_EVENTS = f"SELECT {', '.join(EVENT_COLUMNS)} FROM store.events"

APPEND = """
SELECT event_id, position, stream_version, duplicate
FROM store.append_events(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""  # infra/migrations/0007_append_function.sql, 0012_event_principal.sql
WRONG_EXPECTED_VERSION = "ZS409"  # the SQLSTATE store.append_events raises for a stale version
SELECT_RECORDED_KEYS = """
SELECT e.*
FROM unnest($1::text[], $2::text[]) AS k(source, message_id)
CROSS JOIN LATERAL (
    SELECT source, message_id, event_id, position, stream_version FROM store.events
    WHERE source = k.source AND message_id = k.message_id
) AS e
"""  # one index probe per key: a plain join may scan the whole log
SELECT_RECORDED_EVENTS = f"""
SELECT e.*
FROM unnest($1::text[], $2::text[]) AS k(source, message_id)
CROSS JOIN LATERAL (
    SELECT {", ".join(EVENT_COLUMNS)} FROM store.events
    WHERE source = k.source AND message_id = k.message_id
) AS e
"""  # one index probe per key: a plain join may scan the whole log
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
SELECT_FIGURES_BEFORE = f"""
{SELECT_EVENTS}
WHERE stream_id = $1 AND position < $2 AND type = ANY($3::text[])
  AND data ? 'period' AND left(data->>'period', 4) = ANY($4::text[])
ORDER BY position
"""
SELECT_RECORDED_TIMES = (
    "SELECT position, recorded_at FROM store.events WHERE position = ANY($1::bigint[])"
)
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
    """An event to append: the upstream envelope plus the stream it belongs to, and who sent
    it through which channel."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    type: str
    schema_version: int = 1
    source: str
    message_id: str
    occurred_at: AwareDatetime
    correlation_id: str | None = None
    principal: str
    """Who sent it, as authenticated: `token:<sub>`, `broker:<user>`, `broker:trusted-network`."""
    channel: str
    """How it arrived: `http`, `zs.ingest.<source>`, `zs.ingest`."""
    data: dict[str, Any]
    event_id: UUID = Field(default_factory=uuid4)


class RecordedEvent(NewEvent):
    """An event as the store holds it (the contract, recorded events). `principal` and
    `channel` are None only for events recorded before the store kept them."""

    principal: str | None = None  # type: ignore[assignment]
    channel: str | None = None  # type: ignore[assignment]
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


def append_arguments(
    events: Sequence[NewEvent], expected_versions: Mapping[str, int]
) -> tuple[list[Any], ...]:
    """The arguments of store.append_events: one array per column, frames, expectations."""
    frames = [
        canonical_frame(
            event_id=e.event_id, stream_id=e.stream_id, type=e.type,
            schema_version=e.schema_version, source=e.source, message_id=e.message_id,
            occurred_at=e.occurred_at, correlation_id=e.correlation_id, principal=e.principal,
            channel=e.channel,
        )
        for e in events
    ]  # fmt: skip
    return (
        [e.event_id for e in events], [e.stream_id for e in events], [e.type for e in events],
        [e.schema_version for e in events], [e.source for e in events],
        [e.message_id for e in events], [e.occurred_at for e in events],
        [e.correlation_id for e in events], [canonical_json(e.data) for e in events],
        [a for a, _, _ in frames], [b for _, b, _ in frames], [c for _, _, c in frames],
        list(expected_versions), list(expected_versions.values()),
        [e.principal for e in events], [e.channel for e in events],
    )  # fmt: skip


def first_occurrences(events: Sequence[NewEvent]) -> list[int]:
    """For each event, the index of the first event of the batch with its (source, message_id)."""
    first: dict[tuple[str, str], int] = {}
    return [first.setdefault((e.source, e.message_id), index) for index, e in enumerate(events)]


def appended(row: asyncpg.Record, *, duplicate: bool) -> Appended:
    """An `Appended` from a row of store.append_events, marked a duplicate if it repeats one."""
    return Appended.model_construct(
        event_id=row[0], position=row[1], stream_version=row[2], duplicate=row[3] or duplicate
    )


def append_error(error: asyncpg.PostgresError) -> StoreError:
    """The store's exception for a database error raised by an append."""
    if error.sqlstate == WRONG_EXPECTED_VERSION:
        detail = json.loads(getattr(error, "detail", None) or "{}")
        return WrongExpectedVersion(detail["stream_id"], detail["expected"], detail["actual"])
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return StoreError(f"append refused: {error}")
    return StoreUnavailable(f"append failed: {error}")


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
        firsts = first_occurrences(events)  # a repeat within the batch answers its first
        unique = [events[index] for index in dict.fromkeys(firsts)]
        arguments = append_arguments(unique, expected_versions or {})
        # Why one lock for every append. Readers follow the log by position ("give me
        # everything after N"), so a position may only become visible once every lower
        # position is visible. A sequence cannot promise that: two transactions draw 7 and
        # 8, the one holding 8 commits first, a reader sees 8, moves its checkpoint past 7
        # and never sees 7 when it commits a moment later. So positions are not drawn from a
        # sequence. Each append first takes one transaction-scoped advisory lock
        # (APPEND_LOCK_KEY), then reads the current head (in a statement of its own, so its
        # snapshot is taken after the lock was granted and includes the previous holder's
        # commit), numbers its events head+1, head+2, ... and inserts them. The lock is
        # released only when the transaction commits or rolls back, so appends commit one
        # after another, in position order: positions are gapless (a rolled-back append used
        # none) and follow commit order, and a reader that has seen position N has seen
        # every event below N. The same serial section makes the hash chain well defined
        # (each event links to the committed head) and keeps recorded_at non-decreasing
        # along positions, so "as known at time T" is a prefix of the log. The price is one
        # appender at a time, so the serial section is kept short: everything that does not
        # depend on the head (canonical JSON, the canonical bytes around position, stream
        # version and recorded_at) is computed here before the call, and the section itself
        # is one server-side function, store.append_events (migration 0007), run as a single
        # statement in its own implicit transaction: lock, head, expected versions, repeats,
        # numbering, hash chain, insert and NOTIFY in one round trip, the lock held from the
        # function's first line to the commit and never across a client round trip. Its
        # statements are each given a fresh snapshot (a VOLATILE function in READ COMMITTED),
        # which is what the head read after the lock relies on.
        try:
            rows = await self.pool.fetch(APPEND, *arguments)
        except asyncpg.PostgresError as error:
            raise append_error(error) from error
        except (OSError, asyncpg.InterfaceError) as error:
            raise StoreUnavailable(f"append failed: {error}") from error
        outcomes = dict(zip(dict.fromkeys(firsts), rows, strict=True))
        return [
            appended(outcomes[first], duplicate=first != index)
            for index, first in enumerate(firsts)
        ]

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

    async def recorded_events(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], RecordedEvent]:
        """The recorded events of those (source, message_id) keys that are recorded."""
        if not keys:
            return {}
        rows = await self._fetch(
            SELECT_RECORDED_EVENTS, [source for source, _ in keys], [mid for _, mid in keys]
        )
        return {(row["source"], row["message_id"]): record_from_row(row) for row in rows}

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
    async def figures_before(
        reader: Reader, jobcenter_id: str, position: int, years: Sequence[int]
    ) -> list[RecordedEvent]:
        """The jobcenter's figure publications for periods in `years`, recorded before
        `position`, in position order (through `reader`, e.g. a projection's transaction)."""
        rows = await reader.fetch(
            SELECT_FIGURES_BEFORE, f"figures-{jobcenter_id}", position,
            sorted(FIGURE_TYPES), [str(year) for year in years],
        )  # fmt: skip
        return [record_from_row(row) for row in rows]

    @staticmethod
    async def head(connection: Reader) -> int:
        """The last recorded position as `connection` sees it (e.g. in its snapshot)."""
        return int(await connection.fetchval(SELECT_LAST_POSITION))

    async def last_position(self) -> int:
        """The position of the last recorded event (0 for an empty log)."""
        return int(await self._fetchval(SELECT_LAST_POSITION))

    async def recorded_times(self, positions: Iterable[int]) -> dict[int, datetime]:
        """When each of these positions was recorded (those that exist)."""
        rows = await self._fetch(SELECT_RECORDED_TIMES, sorted(set(positions)))
        return {row["position"]: row["recorded_at"] for row in rows}

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

    async def figure_vintages(
        self,
        key: tuple[str, str, str, str],
        until: int,
        limit: int,
        offset: int,
        connection: Reader | None = None,
    ) -> tuple[list[RecordedEvent], int]:
        """A page of every publication (vintage) of one monthly figure, key (jobcenter_id,
        indicator, breakdown, period), recorded up to position `until`, in publication order
        (`occurred_at`, then position: the last one is in force), with their total count.
        Reads through `connection` (e.g. a snapshot) when given."""
        jobcenter_id, indicator, breakdown, period = key
        reader = connection or self.pool
        rows = await reader.fetch(
            SELECT_FIGURE_VINTAGES, f"figures-{jobcenter_id}", indicator, breakdown, period,
            until, limit, offset,
        )  # fmt: skip
        events = [
            RecordedEvent.model_construct(**{column: row[column] for column in EVENT_COLUMNS})
            for row in rows
        ]
        return events, int(rows[0]["total"]) if rows else 0

    async def figures_published(
        self,
        until: int,
        published: datetime,
        *,
        jobcenter_id: str | None = None,
        indicator: str | None = None,
        year: int | None = None,
        jobcenters: Sequence[str] | None = None,
    ) -> list[tuple[RecordedEvent, int]]:
        """The monthly figures as published by `published` (envelope `occurred_at`, not record
        time), among the events recorded up to position `until`: per (jobcenter, indicator,
        breakdown, period), the one in force among its publications with `occurred_at` <=
        `published` (the latest `occurred_at`, then the highest position), and how many such
        publications there are. Filtered by jobcenter,
        indicator, year of the period, and restricted to `jobcenters` when given."""
        period_year = None if year is None else f"{year:04d}"
        rows = await self._fetch(
            SELECT_FIGURES_PUBLISHED, until, published, jobcenter_id, indicator, period_year,
            None if jobcenters is None else list(jobcenters),
        )  # fmt: skip
        return [
            (
                RecordedEvent.model_construct(**{column: row[column] for column in EVENT_COLUMNS}),
                int(row["publications"]),
            )
            for row in rows
        ]


SELECT_FIGURE_VINTAGES = f"""
SELECT {", ".join(EVENT_COLUMNS)}, count(*) OVER () AS total
FROM store.events
WHERE stream_id = $1 AND data ? 'period' AND left(data->>'period', 4) = left($4, 4)
  AND type IN ('MonthlyFigureReported', 'MonthlyFigureCorrected')
  AND data->>'period' = $4 AND data->>'indicator' = $2 AND data->>'breakdown' = $3
  AND position <= $5
ORDER BY occurred_at, position LIMIT $6 OFFSET $7
"""
"""The publications of one figure: found by stream and year through the period index."""
SELECT_FIGURES_PUBLISHED = f"""
SELECT DISTINCT ON (data->>'jobcenter_id', data->>'indicator', data->>'breakdown', data->>'period')
       {", ".join(EVENT_COLUMNS)},
       count(*) OVER (PARTITION BY data->>'jobcenter_id', data->>'indicator',
                      data->>'breakdown', data->>'period') AS publications
FROM store.events
WHERE type IN ('MonthlyFigureReported', 'MonthlyFigureCorrected')
  AND position <= $1 AND occurred_at <= $2
  AND ($3::text IS NULL OR stream_id = 'figures-' || $3)
  AND ($4::text IS NULL OR data->>'indicator' = $4)
  AND ($5::text IS NULL OR left(data->>'period', 4) = $5)
  AND ($6::text[] IS NULL OR data->>'jobcenter_id' = ANY($6::text[]))
ORDER BY data->>'jobcenter_id', data->>'indicator', data->>'breakdown', data->>'period',
         occurred_at DESC, position DESC
"""
"""The figures in force as published by a time: the latest published (ties: the latest
recorded) of each figure's publications up to then, with their number."""
