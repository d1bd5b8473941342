"""The PostgreSQL event store: append with expected versions, read a stream, read all, read a
selection (typed conditions, no SQL from callers), read windows and groups of streams for a
rebuild, the head and the log as known at a time. It knows the log only: no event type, no
field of an event's data is named here; callers name them in a `Selection`.

Driver errors never leave this module: callers see `StoreError` and its subclasses.

Its size: every statement on `store.events` lives here (one owner per table), beside the
lock that orders positions; splitting reads from appends would scatter that table's SQL.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel, ConfigDict

from events.chain import canonical_frame, canonical_json
from events.log import CanonicalJson, NewEvent, Payload, RecordedEvent, Selection

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
SELECT event_id, position, stream_version, duplicate,
       original_type, original_schema_version, original_occurred_at, original_data
FROM store.append_events(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""  # infra/migrations/0007_append_function.sql, 0012_event_principal.sql, 0016_...sql
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
SELECT_RECORDED_TIMES = (
    "SELECT position, recorded_at FROM store.events WHERE position = ANY($1::bigint[])"
)
SELECT_POSITION_AT = "SELECT coalesce(max(position), 0) FROM store.events WHERE recorded_at <= $1"


def head_and_record_times(positions: str) -> str:
    """Two CTEs for a reader that folds the log's head into one statement of its own (the API's
    status): `head(position)`, the last recorded position, and `recorded(position, recorded_at)`
    for the positions the subquery `positions` selects (it may read `head`). The log's table is
    named here only."""
    return (
        "head AS (SELECT coalesce(max(position), 0) AS position FROM store.events),\n"
        "recorded AS (SELECT position, recorded_at FROM store.events"
        f" WHERE position = ANY(ARRAY({positions})))"
    )


WINDOW = 25_000
"""Positions per window of a rebuild's read: about 20 MB of rows at most."""
SELECT_WINDOW = f"{SELECT_EVENTS} WHERE position > $1 AND position <= $2 ORDER BY position"
SELECT_WINDOW_OF_TYPES = (
    f"{SELECT_EVENTS} WHERE position > $1 AND position <= $2 AND type = ANY($3::text[])"
    " ORDER BY position"
)
GROUPED_COLUMNS = (
    "position", "event_id", "stream_id", "type", "schema_version", "occurred_at", "recorded_at",
    "data",
)  # fmt: skip
"""What a read of groups of streams gives of an event (the others are left unset)."""
SELECT_STREAMS_OF_TYPES = f"""
SELECT {", ".join(GROUPED_COLUMNS)}
FROM store.events
WHERE stream_id = ANY($1::text[]) AND position <= $2 AND type = ANY($3::text[])
"""
EVENTS_PER_READ = 10_000
"""About how many events a read of groups of streams reads at a time (whole groups)."""
SELECT_STREAM_KEYS = """
SELECT stream_id, data->>$3 AS key, count(*) AS events
FROM store.events
WHERE position <= $1 AND type = ANY($2::text[])
GROUP BY stream_id, key
"""
FIELD_NAME = re.compile(r"[a-z][a-z_]*")
"""A data field a selection may name (written into the statement as a literal)."""
RECORD_FIELDS = frozenset(RecordedEvent.model_fields)
GROUPED = frozenset(GROUPED_COLUMNS)
Group = tuple[list[str], int]
"""Streams whose events fold together, and how many events of the types asked they hold."""


Reader: TypeAlias = "asyncpg.Pool | PoolConnectionProxy[asyncpg.Record]"
"""Where a read may run: the pool, or a connection holding a snapshot."""


CONNECTION_LOST: tuple[type[Exception], ...] = (
    OSError, asyncpg.InterfaceError, asyncpg.InternalClientError,
)  # fmt: skip
"""What a call raises when its connection is gone or was cut mid-operation. A session the server
ends (a restart, `pg_terminate_backend`) can leave asyncpg's protocol in a state where the next
call raises `InternalClientError` ("cannot switch to state 12; another operation is in
progress", MagicStack/asyncpg#1069) rather than an `InterfaceError`."""
READ_FAILURES: tuple[type[Exception], ...] = (*CONNECTION_LOST, asyncpg.PostgresError)
"""What makes a read of the store fail: a lost connection or an error the server reported."""


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


class Appended(BaseModel):
    """The fate of one appended event: its position, or the original's when a duplicate."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    position: int
    stream_version: int
    duplicate: bool
    original: Payload | None = None
    """Given by `append` for a duplicate: the payload of the event it repeats, as recorded
    (read by the append under its lock), or of the batch's first event with its key."""


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


def appended(row: asyncpg.Record, first: NewEvent, *, repeat: bool) -> Appended:
    """An `Appended` from the row store.append_events answered for the batch's `first` event
    with a key: a duplicate of the recorded event that one repeats, else, for a later event of
    the batch with that key (`repeat`), of `first`."""
    original = (
        Payload(row[4], row[5], row[6], canonical_json(row[7]))
        if row[3]
        else Payload.of(first)
        if repeat
        else None
    )
    return Appended.model_construct(
        event_id=row[0], position=row[1], stream_version=row[2], duplicate=original is not None,
        original=original,
    )  # fmt: skip


def append_error(error: asyncpg.PostgresError) -> StoreError:
    """The store's exception for a database error raised by an append."""
    if error.sqlstate == WRONG_EXPECTED_VERSION:
        detail = json.loads(getattr(error, "detail", None) or "{}")
        return WrongExpectedVersion(detail["stream_id"], detail["expected"], detail["actual"])
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return StoreError(f"append refused: {error}")
    return StoreUnavailable(f"append failed: {error}")


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


async def keep_session(_connection: asyncpg.Connection) -> None:
    """A pool's reset that leaves the session as it is (asyncpg still rolls back a transaction
    left open): for readers that change nothing of their session (no LISTEN, no session
    advisory lock, no SET), saving a round trip each time a connection goes back to the pool."""


async def create_pool(
    database_url: str, *, role: str | None = None, min_size: int = 1, max_size: int = 10,
    reset_sessions: bool = True,
) -> asyncpg.Pool:  # fmt: skip
    """A connection pool for the store, switched to `role` (SELECT/INSERT only on the log);
    without `reset_sessions`, a connection goes back to the pool without asyncpg's reset query
    (for readers that leave their session as they found it: `keep_session`)."""
    settings = {"role": role} if role else {}
    try:
        return await asyncpg.create_pool(
            database_url,
            min_size=min_size,
            max_size=max_size,
            init=init_connection,
            server_settings=settings,
            reset=None if reset_sessions else keep_session,
        )
    except (OSError, asyncpg.PostgresError) as error:
        raise StoreUnavailable(f"cannot connect to the event store: {error}") from error


def record_from_row(row: asyncpg.Record) -> RecordedEvent:
    """A stored row as a `RecordedEvent` (the database already enforced its types)."""
    return RecordedEvent.model_construct(**dict(row))


def trusted_record(row: asyncpg.Record, fields: frozenset[str] = RECORD_FIELDS) -> RecordedEvent:
    """A stored row as a `RecordedEvent`, without validation (as `record_from_row`, cheaper);
    `fields` names the columns the row holds."""
    event = RecordedEvent.__new__(RecordedEvent)
    object.__setattr__(event, "__dict__", dict(row))
    object.__setattr__(event, "__pydantic_fields_set__", set(fields))  # model_copy adds to it
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def _field(name: str) -> str:
    """A data field's key as a literal of the statement (checked: never a caller's SQL)."""
    if not FIELD_NAME.fullmatch(name):
        raise ValueError(f"not a data field a selection may name: {name!r}")
    return f"'{name}'"


def selection_query(selection: Selection) -> tuple[str, list[object]]:
    """The statement reading `selection` in position order, and its arguments."""
    conditions: list[str] = []
    arguments: list[object] = []

    def argument(value: object) -> str:
        arguments.append(value)
        return f"${len(arguments)}"

    if selection.stream is not None:
        conditions.append(f"stream_id = {argument(selection.stream)}")
    if selection.types is not None:
        conditions.append(f"type = ANY({argument(sorted(selection.types))}::text[])")
    if selection.until is not None:
        conditions.append(f"position <= {argument(selection.until)}")
    if selection.after is not None:
        conditions.append(f"position > {argument(selection.after)}")
    if selection.published_by is not None:
        conditions.append(f"occurred_at <= {argument(selection.published_by)}")
    for name, values in selection.fields.items():
        conditions.append(f"data->>{_field(name)} = ANY({argument(sorted(values))}::text[])")
    for name, values in selection.prefixes.items():
        lengths = {len(value) for value in values}
        if len(lengths) > 1:
            raise ValueError(f"prefixes of {name!r} differ in length: {sorted(values)}")
        length = lengths.pop() if lengths else 0
        key, starts = _field(name), argument(sorted(values))
        conditions.append(f"data ? {key} AND left(data->>{key}, {length}) = ANY({starts}::text[])")
    where = " AND ".join(conditions) or "true"
    return f"{SELECT_EVENTS} WHERE {where} ORDER BY position", arguments


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
        again: its `Appended` is the original's, with `duplicate=True` and the original's
        payload (so the caller can tell a duplicate from a conflict). If every event of a
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
        except CONNECTION_LOST as error:
            raise StoreUnavailable(f"append failed: {error}") from error
        outcomes = dict(zip(dict.fromkeys(firsts), rows, strict=True))
        return [
            appended(outcomes[first], events[first], repeat=first != index)
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
            page = [trusted_record(row) for row in rows]
            yield page
            after = page[-1].position

    @staticmethod
    async def select(reader: Reader, selection: Selection) -> list[RecordedEvent]:
        """The events `selection` names, in position order, through `reader` (the pool, a
        snapshot or a projection's transaction)."""
        query, arguments = selection_query(selection)
        try:
            rows = await reader.fetch(query, *arguments)
        except READ_FAILURES as error:
            raise StoreUnavailable(f"read failed: {error}") from error
        return [trusted_record(row) for row in rows]

    async def windows(
        self, types: Collection[str] | None, after: int, until: int, size: int = WINDOW
    ) -> AsyncIterator[tuple[list[RecordedEvent], int]]:
        """The events of `types` (None: all) in (after, until], a window of positions at a
        time, each with the position it covers; the next window is read while the caller works
        on this one. Every query touches a bounded part of the table whatever plan the database
        picks (a `LIMIT` page over the type index sorted everything after it, each page, on a
        freshly loaded store whose statistics were not yet gathered)."""
        query, extra = (
            (SELECT_WINDOW, ()) if types is None else (SELECT_WINDOW_OF_TYPES, (sorted(types),))
        )

        async def read(start: int, end: int) -> list[RecordedEvent]:
            return [trusted_record(row) for row in await self._fetch(query, start, end, *extra)]

        end = min(after + size, until)
        pending = asyncio.ensure_future(read(after, end)) if after < until else None
        while pending is not None:
            page, reached = await pending, end
            pending = None
            if reached < until:
                end = min(reached + size, until)
                pending = asyncio.ensure_future(read(reached, end))
            try:
                yield page, reached
            except BaseException:
                if pending is not None:
                    pending.cancel()
                raise

    async def stream_keys(
        self, until: int, types: Collection[str], key: str
    ) -> tuple[dict[str, list[str]], dict[str, int]]:
        """The streams with events of `types` up to `until`: each with the distinct values of
        its events' data field `key`, and with how many such events it holds."""
        keys: dict[str, list[str]] = {}
        sizes: dict[str, int] = {}
        for row in await self._fetch(SELECT_STREAM_KEYS, until, sorted(types), key):
            stream = row["stream_id"]
            keys.setdefault(stream, []).append(row["key"])
            sizes[stream] = sizes.get(stream, 0) + int(row["events"])
        return keys, sizes

    async def read_groups(
        self,
        types: Collection[str],
        groups: Sequence[Group],
        until: int,
        fields: Mapping[str, Collection[str]] | None = None,
        size: int = EVENTS_PER_READ,
    ) -> AsyncIterator[list[RecordedEvent]]:
        """The events of `types` up to `until` of whole groups of streams, several groups at a
        time (at least one, about `size` events), each read in position order, only those whose
        data `fields` have one of the values given; the next read runs while the caller works
        on this one. Each event holds `GROUPED_COLUMNS` only."""
        chunks: list[list[str]] = [[]]
        events = 0
        for streams, count in groups:
            if chunks[-1] and events + count > size:
                chunks.append([])
                events = 0
            chunks[-1].extend(streams)
            events += count
        kinds = sorted(types)
        query = (
            SELECT_STREAMS_OF_TYPES
            + "".join(
                f"  AND data->>{_field(name)} = ANY(${index}::text[])\n"
                for index, name in enumerate(fields or {}, start=4)
            )
            + "ORDER BY position\n"
        )
        values = [sorted(v) for v in (fields or {}).values()]

        async def read(streams: list[str]) -> list[RecordedEvent]:
            rows = await self._fetch(query, streams, until, kinds, *values)
            return [trusted_record(row, GROUPED) for row in rows]

        todo = [chunk for chunk in chunks if chunk]
        pending = asyncio.ensure_future(read(todo[0])) if todo else None
        for index in range(len(todo)):
            assert pending is not None
            page = await pending
            next_index = index + 1
            pending = (
                asyncio.ensure_future(read(todo[next_index])) if next_index < len(todo) else None
            )
            try:
                yield page
            except BaseException:
                if pending is not None:
                    pending.cancel()
                raise

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
        except READ_FAILURES as error:
            raise StoreUnavailable(f"read failed: {error}") from error

    async def _fetchval(self, query: str, *args: object) -> Any:
        try:
            return await self.pool.fetchval(query, *args)
        except READ_FAILURES as error:
            raise StoreUnavailable(f"read failed: {error}") from error
