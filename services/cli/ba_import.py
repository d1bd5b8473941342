"""`zs import FILE`: a publication of the BA statistics' § 48a tables, read whole (`ba_table`),
turned into figure envelopes of the source `ba-statistik` and published through the broker like
any other message (docs/import.md).

Invariants:
- each figure of a publication has one message id (publication date, jobcenter, indicator,
  breakdown, month), and what it sends depends only on the publications before it, so
  importing the same file again sends the same envelopes: the ingest settles them as duplicates;
- a figure is a `MonthlyFigureReported` when no earlier publication has it, a
  `MonthlyFigureCorrected` when the vintage in force among the earlier ones differs, and is not
  sent when it equals that vintage (no revision without a change);
- nothing is published unless every row was read and names a registered jobcenter.
"""

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress

from events.catalogue import FIGURE_TYPES, ComparisonTypeAssigned, JobcenterRegistered
from events.envelope import json_number
from events.log import RecordedEvent, Selection, figures_stream
from events.store import EventStore
from infra.roles import DbRole
from infra.settings import get_settings
from services.bootstrap import Servers, open_store, servers
from services.cli.ba_table import Fault, Figure, Table, TableError, TypeAssignment, read_table
from services.cli.publish import Tally, publish_lines, sender_routes

SOURCE = "ba-statistik"
TYPOLOGY = "SGB-II-Typisierung des IAB"
"""The typology of the § 48a comparison types (docs/import.md names the sources)."""

Key = tuple[str, str, str, str]
Fraction = tuple[Decimal, Decimal | None, Decimal | None]
"""A figure's value, numerator and denominator."""
TypeKey = tuple[str, int]
"""(jobcenter, year) of a comparison type."""


@dataclass(frozen=True)
class Plan:
    """What a publication sends."""

    envelopes: list[dict[str, Any]]
    reported: int
    corrected: int
    unchanged: int
    types: int


def published_at(publication: date) -> datetime:
    """A publication's moment: 00:00 UTC of its day (the envelopes' `occurred_at`)."""
    return datetime(publication.year, publication.month, publication.day, tzinfo=UTC)


def status(period: str, publication: date) -> str:
    """`final` once the three-month waiting period after the month is over at publication
    (July from 1 November on), else `preliminary` (docs/domain.md, section 2)."""
    year, month = int(period[:4]), int(period[5:7])
    final_from = date(year + (month + 3) // 12, (month + 3) % 12 + 1, 1)
    return "final" if publication >= final_from else "preliminary"


def message_id(publication: date, key: Key) -> str:
    """The stable id of one figure of one publication."""
    return f"ba-{publication.isoformat()}-{'-'.join(key)}"


def late_months(figures: Iterable[Figure], publication: date) -> list[Fault]:
    """A figure cannot be published before its month is over."""
    current = f"{publication.year:04d}-{publication.month:02d}"
    return [Fault(f.line, f"Berichtsmonat {f.period} is not over on the publication date "
                          f"{publication:%d.%m.%Y}")
            for f in figures if f.period >= current]  # fmt: skip


def plan(
    table: Table,
    earlier: Mapping[Key, Fraction],
    earlier_types: Mapping[TypeKey, dict[str, Any]],
    publication: date,
) -> Plan:
    """The envelopes of `table` as published on `publication`: its figures, given the vintage in
    force of each among the earlier publications (`earlier`), and its comparison types, given
    the latest earlier assignment of each jobcenter and year (`earlier_types`, their data);
    what equals the earlier is not sent."""
    at = published_at(publication).isoformat().replace("+00:00", "Z")
    envelopes: list[dict[str, Any]] = []
    counts = {"MonthlyFigureReported": 0, "MonthlyFigureCorrected": 0}
    unchanged = 0
    for figure in table.figures:
        fraction = (figure.value, figure.numerator, figure.denominator)
        before = earlier.get(figure.key)
        if before == fraction:  # Decimals: `1,50` equals `1,5`
            unchanged += 1
            continue
        kind = "MonthlyFigureReported" if before is None else "MonthlyFigureCorrected"
        counts[kind] += 1
        data: dict[str, Any] = {
            "jobcenter_id": figure.jobcenter_id, "indicator": figure.indicator,
            "breakdown": figure.breakdown, "period": figure.period,
            "value": as_json(figure.value), "numerator": as_json(figure.numerator),
            "denominator": as_json(figure.denominator),
            "status": status(figure.period, publication),
        }  # fmt: skip
        if before is not None:
            data["reason"] = (f"Korrektur in der Veröffentlichung der BA-Statistik vom "
                              f"{publication:%d.%m.%Y}")  # fmt: skip
        envelopes.append(envelope(message_id(publication, figure.key), kind, at, data))
    types = [sent for t in table.types
             if not repeats(sent := type_envelope(t, publication, at),
                            earlier_types.get((t.jobcenter_id, t.year)))]  # fmt: skip
    return Plan([*types, *envelopes], counts["MonthlyFigureReported"],
                counts["MonthlyFigureCorrected"], unchanged, len(types))  # fmt: skip


def repeats(sent: dict[str, Any], before: dict[str, Any] | None) -> bool:
    """Whether an envelope's data says what an earlier event's data said already."""
    return before is not None and all(before.get(k) == v for k, v in sent["data"].items())


def as_json(value: Decimal | None) -> int | float | None:
    """A number as the envelope's JSON carries it (`null` for none)."""
    return None if value is None else json_number(value)


def envelope(message: str, kind: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    """An envelope of the `ba-statistik` source."""
    return {"message_id": message, "source": SOURCE, "type": kind, "schema_version": 1,
            "occurred_at": at, "data": data}  # fmt: skip


def type_envelope(assignment: TypeAssignment, publication: date, at: str) -> dict[str, Any]:
    """The `ComparisonTypeAssigned` of a jobcenter's type for a year, as the table names it;
    the typology's version defaults to the publication's year: the typology the statistics
    applied when they published it (docs/import.md)."""
    data = {
        "jobcenter_id": assignment.jobcenter_id, "year": assignment.year,
        "type_code": assignment.type_code,
        "type_name": assignment.type_name or f"Vergleichstyp {assignment.type_code}",
        "typology": TYPOLOGY,
        "typology_version": assignment.typology_version or str(publication.year),
    }  # fmt: skip
    message = f"ba-{publication.isoformat()}-{assignment.jobcenter_id}-type-{assignment.year}"
    return envelope(message, ComparisonTypeAssigned.event_type, at, data)


async def unregistered(store: EventStore, table: Table) -> list[Fault]:
    """The rows whose jobcenter was never registered (the ingest would reject their figures)."""
    named = sorted({figure.jobcenter_id for figure in table.figures})
    selection = Selection(types={JobcenterRegistered.event_type},
                          fields={"jobcenter_id": named})  # fmt: skip
    known = {event.data["jobcenter_id"] for event in await EventStore.select(store.pool, selection)}
    return [Fault(figure.line, f"Jobcenter {figure.jobcenter_id} is not registered")
            for figure in table.figures if figure.jobcenter_id not in known]  # fmt: skip


async def earlier_vintages(
    store: EventStore, figures: Sequence[Figure], publication: date
) -> dict[Key, Fraction]:
    """The vintage in force of each figure among the publications before `publication`
    (greatest `occurred_at`, then position), read from the event store: the same rule as
    `GET /figures`, whichever source published them."""
    before = published_at(publication)
    wanted: dict[str, list[Figure]] = {}
    for figure in figures:
        wanted.setdefault(figure.jobcenter_id, []).append(figure)
    found: dict[Key, tuple[tuple[datetime, int], Fraction]] = {}
    for jobcenter_id, own in wanted.items():
        selection = Selection(
            stream=figures_stream(jobcenter_id), types=FIGURE_TYPES, published_by=before,
            fields={"indicator": sorted({f.indicator for f in own})},
            prefixes={"period": sorted({f.period[:4] for f in own})},
        )  # fmt: skip
        for event in await EventStore.select(store.pool, selection):
            if event.occurred_at < before:
                keep_latest(found, event)
    return {key: fraction for key, (_, fraction) in found.items()}


async def earlier_assignments(
    store: EventStore, assignments: Sequence[TypeAssignment], publication: date
) -> dict[TypeKey, dict[str, Any]]:
    """The data of the latest assignment of each (jobcenter, year) of `assignments` among the
    publications before `publication` (greatest `occurred_at`, then position)."""
    before = published_at(publication)
    selection = Selection(
        types={ComparisonTypeAssigned.event_type}, published_by=before,
        fields={"jobcenter_id": sorted({a.jobcenter_id for a in assignments})},
    )  # fmt: skip
    latest: dict[TypeKey, tuple[tuple[datetime, int], dict[str, Any]]] = {}
    for event in await EventStore.select(store.pool, selection) if assignments else []:
        key, order = (
            (event.data["jobcenter_id"], event.data["year"]),
            (event.occurred_at, event.position),
        )
        if event.occurred_at < before and (key not in latest or latest[key][0] < order):
            latest[key] = (order, dict(event.data))
    return {key: data for key, (_, data) in latest.items()}


def keep_latest(
    found: dict[Key, tuple[tuple[datetime, int], Fraction]], event: RecordedEvent
) -> None:
    """Note `event`'s numbers under its figure unless a later publication is noted already."""
    data = event.data
    key = (data["jobcenter_id"], data["indicator"], data["breakdown"], data["period"])
    order = (event.occurred_at, event.position)
    if key not in found or found[key][0] < order:
        value = Decimal(str(data["value"]))
        found[key] = (order, (value, decimal(data.get("numerator")),
                              decimal(data.get("denominator"))))  # fmt: skip


def decimal(value: object) -> Decimal | None:
    """A stored JSON number as an exact decimal."""
    return None if value is None else Decimal(str(value))


FAULTS_SHOWN = 100
"""How many unreadable rows are listed; the count names the rest."""


def import_command(
    file: Path,
    publication: str | None = typer.Option(
        None, help="The publication date (YYYY-MM-DD); default: the table's 'Stand' line."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and plan, publish nothing."),
    wait: float = typer.Option(60.0, help="Seconds to wait for the outcome counts."),
) -> None:
    """Import a publication of the BA statistics' § 48a tables (CSV or XLSX, docs/import.md):
    every row read first, then its figures published through the broker as the source
    `ba-statistik`. A row that cannot be read, or names an unregistered jobcenter, is listed
    with its line, and nothing is published."""
    settings = get_settings()
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("reading", total=None)
        try:
            table = read_table(file, lambda line, last: progress.update(task, completed=line,
                                                                        total=last))  # fmt: skip
        except TableError as error:
            fail(f"{file}: {error}; nothing published")
    day = publication_date(publication, table)
    faults = table.faults + late_months(table.figures, day)

    async def go(urls: Servers) -> tuple[Plan, Tally | None] | None:
        async with open_store(urls.database_url, settings) as store:
            if unknown := await unregistered(store, table):
                faults.extend(unknown)
                return None
            earlier = await earlier_vintages(store, table.figures, day)
            types = await earlier_assignments(store, table.types, day)
            planned = plan(table, earlier, types, day)
            if dry_run or not planned.envelopes:
                return planned, None
            passwords, channels = sender_routes(settings)
            lines = [json.dumps(envelope).encode() for envelope in planned.envelopes]
            tally = await publish_lines(
                store, urls.broker_url, lines, wait, console,
                source=SOURCE, passwords=passwords, channels=channels,
            )  # fmt: skip
            return planned, tally

    outcome = None
    if not faults:
        with servers(settings, [DbRole.API]) as urls:
            outcome = asyncio.run(go(urls))
    if outcome is None:
        report_faults(file, faults)
    planned, tally = outcome
    summary(table, planned)
    if dry_run or not planned.envelopes:
        typer.echo("dry run: nothing published" if dry_run else "nothing to publish")
        return
    if tally is None:
        typer.echo(f"published {len(planned.envelopes)}; outcome not known yet "
                   "(is the ingest running?)")  # fmt: skip
        return
    typer.echo(f"published {tally.published}: recorded {tally.recorded}, duplicate "
               f"{tally.duplicate}, rejected {tally.rejected}")  # fmt: skip
    if tally.rejected:
        typer.echo("some envelopes were rejected: see `GET /rejections`", err=True)
        raise typer.Exit(1)


def fail(message: str) -> NoReturn:
    """End the command with `message` on stderr and exit code 1."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def publication_date(given: str | None, table: Table) -> date:
    """The publication date: as given, else the table's "Stand" line; not in the future."""
    if given is None and table.publication is None:
        fail("the table names no publication date ('Stand: TT.MM.JJJJ'): give --publication")
    try:
        day = date.fromisoformat(given) if given is not None else table.publication
    except ValueError:
        fail(f"--publication {given!r} is not a date (YYYY-MM-DD)")
    assert day is not None
    if day > datetime.now(UTC).date():
        fail(f"--publication {day.isoformat()} lies in the future")
    return day


def report_faults(file: Path, faults: Sequence[Fault]) -> NoReturn:
    """List the rows that cannot be read (the first `FAULTS_SHOWN`) and exit 1."""
    typer.echo(f"Error: {file}: {len(faults)} row(s) cannot be imported; nothing published",
               err=True)  # fmt: skip
    for fault in sorted(faults, key=lambda f: f.line)[:FAULTS_SHOWN]:
        typer.echo(f"line {fault.line}: {fault.reason}", err=True)
    if len(faults) > FAULTS_SHOWN:
        typer.echo(f"... and {len(faults) - FAULTS_SHOWN} more", err=True)
    raise typer.Exit(1)


def summary(table: Table, planned: Plan) -> None:
    """What the file held and what it sends."""
    typer.echo(
        f"read {len(table.figures)} figure(s) ({table.suppressed} not published, "
        f"{table.aggregates} of Germany or a Land skipped): {planned.reported} new, "
        f"{planned.corrected} corrected, {planned.unchanged} unchanged; "
        f"{planned.types} comparison type(s) new or changed"
    )
    if table.ignored_columns:
        typer.echo(f"columns not read: {', '.join(table.ignored_columns)}", err=True)
