"""Append throughput of our event store against raw COPY and the `eventsourcing` library.

Run: `python -m tests.benchmarks.bench_append [--events N]`, or `run(n)` from Python for the
figures as a dict. All three writers use the same PostgreSQL server (ZS_DATABASE_URL, else an
embedded one), each a fresh database of its own, the same batches, and take turns.

Its size: the three writers are short classes kept beside the measuring loop and the table,
so that a reader can check that they are timed on the same batches in the same way.
"""

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from events.chain import GENESIS_HASH, canonical_json, chain_hash
from events.log import NewEvent
from events.store import EVENT_COLUMNS, EventStore, create_pool, encode_jsonb
from infra.database import create_database, drop_database
from infra.embedded import embedded_postgres_server
from infra.migrate import migrate
from infra.settings import Settings
from tests.benchmarks.eventsourcing_recorder import EventsourcingWriter
from tests.factories import figure_event

DESCRIPTION = "Append throughput: our store, raw COPY and eventsourcing."
DEFAULT_EVENTS = 20_000
BATCH_SIZES = (1, 100, 1_000)
SINGLE_EVENT_SHARE = 10  # batch size 1 appends N / 10 events, to keep the run short
STREAMS = 100
WARMUP_EVENTS = 50  # per writer and batch size, at least two batches
ROUNDS = 10  # the writers take turns, each timed batch sequence cut into this many slices
SERVICE_ROLE = "zs_ingest"
WRITER_NAMES = ("our store", "raw COPY", "eventsourcing")
SHORT_NAMES = ("store", "COPY", "es")
EXTRA_DATA: dict[str, Any] = {  # brings `data` to ~300 bytes of canonical JSON
    "jobcenter_name": "Jobcenter Darmstadt-Dieburg",
    "indicator_label": "Integrationen in Erwerbstätigkeit (K2)",
    "published_at": "2022-10-27T08:00:00Z",
    "unit": "persons",
    "revision": 1,
}
CREATE_COPY_TABLE = """
CREATE TABLE events (
    position       bigint      PRIMARY KEY,
    event_id       uuid        NOT NULL,
    stream_id      text        NOT NULL,
    stream_version integer     NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    source         text        NOT NULL,
    message_id     text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    correlation_id text,
    principal      text,
    channel        text,
    data           jsonb       NOT NULL,
    prev_hash      char(64)    NOT NULL,
    hash           char(64)    NOT NULL
)
"""

P = TypeVar("P")
Batches = list[list[NewEvent]]


class Writer(Protocol[P]):
    """Something that appends batches: `prepare` is untimed, `write` is what we measure."""

    name: str

    def prepare(self, events: Sequence[NewEvent]) -> P:
        """Turn a batch into what `write` takes."""
        ...

    async def write(self, prepared: P) -> None:
        """Append one prepared batch in one transaction."""
        ...


class StoreWriter:
    """Our `EventStore.append`, no expected versions."""

    name = "our store"

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def prepare(self, events: Sequence[NewEvent]) -> Sequence[NewEvent]:
        """The store takes the events as they are."""
        return events

    async def write(self, prepared: Sequence[NewEvent]) -> None:
        """Append one batch."""
        await self.store.append(prepared)


class CopyWriter:
    """asyncpg `copy_records_to_table` of precomputed rows into a bare table: the floor."""

    name = "raw COPY"

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.position = 0
        self.prev_hash = GENESIS_HASH
        self.versions: Counter[str] = Counter()

    def prepare(self, events: Sequence[NewEvent]) -> list[tuple[Any, ...]]:
        """Rows exactly as the store would write them: positions, versions, hashes, JSONB."""
        recorded_at = datetime.now(UTC)
        return [self._row(event, recorded_at) for event in events]

    def _row(self, event: NewEvent, recorded_at: datetime) -> tuple[Any, ...]:
        """The next row of the log for `event`."""
        self.position += 1
        self.versions[event.stream_id] += 1
        version, prev_hash = self.versions[event.stream_id], self.prev_hash
        self.prev_hash = chain_hash(
            prev_hash,
            position=self.position,
            stream_version=version,
            recorded_at=recorded_at,
            data_json=canonical_json(event.data),
            **event.model_dump(exclude={"data"}),
        )
        return (
            self.position, event.event_id, event.stream_id, version, event.type,
            event.schema_version, event.source, event.message_id, event.occurred_at,
            recorded_at, event.correlation_id, event.principal, event.channel,
            encode_jsonb(event.data), prev_hash,
            self.prev_hash,
        )  # fmt: skip

    async def write(self, prepared: list[tuple[Any, ...]]) -> None:
        """One COPY, in its own (implicit) transaction."""
        await self.connection.copy_records_to_table(
            "events", records=prepared, columns=EVENT_COLUMNS
        )


@dataclass(frozen=True)
class Variant:
    """One batch size: warm-up batches, then the timed ones."""

    batch_size: int
    warmup: Batches
    timed: Batches

    @property
    def timed_events(self) -> int:
        """How many events are timed."""
        return sum(len(batch) for batch in self.timed)

    @property
    def all_events(self) -> int:
        """How many events each writer appends for this variant, warm-up included."""
        return self.timed_events + sum(len(batch) for batch in self.warmup)


@dataclass(frozen=True)
class Result:
    """Events per second of each writer at one batch size."""

    batch_size: int
    events: int
    rates: dict[str, float]


def make_events(count: int) -> list[NewEvent]:
    """`count` figure events with ~300-byte data, spread round-robin over `STREAMS` streams."""
    return [
        figure_event(f"figures-{index % STREAMS:03d}", value=index, **EXTRA_DATA)
        for index in range(count)
    ]


def batched(events: list[NewEvent], size: int) -> Batches:
    """`events` cut into batches of `size` (the last may be shorter)."""
    return [events[start : start + size] for start in range(0, len(events), size)]


def make_variant(batch_size: int, total: int) -> Variant:
    """Fresh events for one batch size: `total` timed ones plus a short warm-up."""
    warmup = max(2 * batch_size, WARMUP_EVENTS)
    return Variant(
        batch_size=batch_size,
        warmup=batched(make_events(warmup), batch_size),
        timed=batched(make_events(total), batch_size),
    )


def timed_count(batch_size: int, events: int) -> int:
    """Events timed at `batch_size`: N, or N / 10 for single-event appends."""
    return max(1, events // SINGLE_EVENT_SHARE) if batch_size == 1 else events


@contextlib.asynccontextmanager
async def fresh_database(server_url: str, label: str) -> AsyncIterator[str]:
    """A new database on the server for one writer, dropped on exit; yield its URL."""
    name = f"zs_bench_{label}_{uuid.uuid4().hex[:10]}"
    url = await create_database(server_url, name)
    try:
        yield url
    finally:
        await drop_database(server_url, name)


@contextlib.asynccontextmanager
async def store_writer(server_url: str) -> AsyncIterator[StoreWriter]:
    """Our store on a migrated database, connected as the ingest's role."""
    async with fresh_database(server_url, "store") as url:
        await migrate(url)
        pool = await create_pool(url, role=SERVICE_ROLE)
        try:
            yield StoreWriter(EventStore(pool))
        finally:
            await pool.close()


@contextlib.asynccontextmanager
async def copy_writer(server_url: str) -> AsyncIterator[CopyWriter]:
    """A bare copy of the events table (primary key only) and one connection to it."""
    async with fresh_database(server_url, "copy") as url:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(CREATE_COPY_TABLE)
            await connection.set_type_codec(
                "jsonb", schema="pg_catalog", encoder=bytes, decoder=bytes, format="binary"
            )  # rows carry the JSONB wire bytes already
            yield CopyWriter(connection)
        finally:
            await connection.close()


@contextlib.asynccontextmanager
async def eventsourcing_writer(server_url: str) -> AsyncIterator[EventsourcingWriter]:
    """The library's application recorder with its table created, closed on exit."""
    async with fresh_database(server_url, "es") as url:
        writer = EventsourcingWriter(url)
        try:
            yield writer
        finally:
            writer.close()


async def run_batches(
    writer: Writer[Any], batches: Batches, advance: Callable[[int], None]
) -> float:
    """Write `batches` one after another; return the seconds spent inside `write`."""
    prepared = [writer.prepare(batch) for batch in batches]
    elapsed = 0.0
    for item, batch in zip(prepared, batches, strict=True):
        started = time.perf_counter()
        await writer.write(item)
        elapsed += time.perf_counter() - started
        advance(len(batch))
    return elapsed


def rounds(batches: Batches) -> list[Batches]:
    """`batches` in up to `ROUNDS` consecutive slices, in order."""
    size = -(-len(batches) // ROUNDS)
    return [batches[start : start + size] for start in range(0, len(batches), size)]


async def measure(writers: Sequence[Writer[Any]], variant: Variant, progress: Progress) -> Result:
    """Warm up, then time every writer at one batch size.

    The writers take turns, a slice of the batches each, so that a change in the machine's
    load during the run falls on all of them alike.
    """
    task = progress.add_task(f"batch {variant.batch_size}", total=len(writers) * variant.all_events)
    seconds = dict.fromkeys((writer.name for writer in writers), 0.0)

    def advance(count: int) -> None:
        """Move the bar on by `count` events."""
        progress.advance(task, count)

    progress.update(task, description=f"batch {variant.batch_size:>5}")
    for writer in writers:
        await run_batches(writer, variant.warmup, advance)
    for batches in rounds(variant.timed):
        for writer in writers:
            seconds[writer.name] += await run_batches(writer, batches, advance)
    progress.update(task, description=f"batch {variant.batch_size:>5}: done")
    rates = {name: variant.timed_events / elapsed for name, elapsed in seconds.items()}
    return Result(variant.batch_size, variant.timed_events, rates)


async def benchmark(server_url: str, events: int, progress: Progress) -> list[Result]:
    """All batch sizes, each writer in a fresh database of its own."""
    variants = [make_variant(size, timed_count(size, events)) for size in BATCH_SIZES]
    async with contextlib.AsyncExitStack() as stack:
        writers: list[Writer[Any]] = [
            await stack.enter_async_context(store_writer(server_url)),
            await stack.enter_async_context(copy_writer(server_url)),
            await stack.enter_async_context(eventsourcing_writer(server_url)),
        ]
        return [await measure(writers, variant, progress) for variant in variants]


async def server_facts(server_url: str) -> str:
    """The server's version and durability settings, for the report."""
    connection = await asyncpg.connect(server_url)
    try:
        version = await connection.fetchval("SHOW server_version")
        commit = await connection.fetchval("SHOW synchronous_commit")
        fsync = await connection.fetchval("SHOW fsync")
    finally:
        await connection.close()
    return f"PostgreSQL {version} (synchronous_commit={commit}, fsync={fsync})"


def rate_cell(rate: float) -> str:
    """Events per second, thousands separated."""
    return f"{rate:,.0f}"


def results_table(results: Sequence[Result]) -> Table:
    """Rows: batch size; columns: events/s of each writer and the store's ratios."""
    table = Table(
        title="Append throughput (events/s)",
        caption="store = EventStore.append, es = eventsourcing recorder",
    )
    for heading in ("batch", "events", *SHORT_NAMES, "store/COPY", "store/es"):
        table.add_column(heading, justify="right")
    for result in results:
        store, copy, library = (result.rates[name] for name in WRITER_NAMES)
        table.add_row(
            f"{result.batch_size:,}", f"{result.events:,}",
            rate_cell(store), rate_cell(copy), rate_cell(library),
            f"{store / copy:.2f}", f"{store / library:.2f}",
        )  # fmt: skip
    return table


def new_progress(console: Console) -> Progress:
    """A progress bar counting appended events (warm-up included)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def report(server_url: str, events: int, console: Console) -> None:
    """Benchmark against `server_url` and print the report."""
    facts = await server_facts(server_url)
    console.print(facts)
    console.print(
        f"N = {events:,} events per batch size (batch size 1: {timed_count(1, events):,})"
    )
    with new_progress(console) as progress:
        results = await benchmark(server_url, events, progress)
    console.print(results_table(results))


def result_figures(result: Result) -> dict[str, Any]:
    """One batch size as plain data: events/s per writer and the store's ratios."""
    store, copy, library = (result.rates[name] for name in WRITER_NAMES)
    return {
        "batch_size": result.batch_size,
        "events": result.events,
        "rates": dict(result.rates),
        "store_vs_copy": store / copy,
        "store_vs_eventsourcing": store / library,
    }


def run(n: int = DEFAULT_EVENTS) -> dict[str, Any]:
    """Run the benchmark with N events per batch size (N / 10 at batch 1), print nothing,
    and return the figures: the server, N and, per batch size, the rates and ratios."""

    async def measure_all(server_url: str) -> dict[str, Any]:
        """The server's facts and every batch size's figures."""
        facts = await server_facts(server_url)
        with Progress(disable=True) as progress:
            results = await benchmark(server_url, n, progress)
        return {"server": facts, "events": n, "results": [result_figures(r) for r in results]}

    with postgres_server() as server_url:
        return asyncio.run(measure_all(server_url))


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The server named by ZS_DATABASE_URL, else an embedded one for this run only."""
    configured = Settings().database_url
    if configured:
        yield configured
        return
    with (
        tempfile.TemporaryDirectory(prefix="zs-bench-") as data_dir,
        embedded_postgres_server(Path(data_dir), delete=True) as url,
    ):
        yield url


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: `--events N`."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument(
        "--events",
        type=positive_int,
        default=DEFAULT_EVENTS,
        help=f"events per batch size (batch size 1: N / 10); default {DEFAULT_EVENTS:,}",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the benchmark and print the table; 0 on success."""
    args = parse_args(argv)
    console = Console()
    with postgres_server() as server_url:
        asyncio.run(report(server_url, args.events, console))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
