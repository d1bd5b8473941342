"""`zs report AGREEMENT_ID`: the agreement's attainment report as a PDF or XLSX file, built as
`GET /agreements/{id}/report` builds it (docs/reports.md)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from events.store import EventStore
from services.api.auth import Principal
from services.api.deps import CATCH_UP_TIMEOUT, ReadAt
from services.api.routes.reports import with_type_positions
from services.cli.audit import run_with_store
from services.replay import position_of
from services.reports.content import AgreementReport, agreement_report
from services.reports.files import ReportFormat, agreement_file, agreement_filename

AUDITOR = Principal(subject="zs report", role="auditor")
"""Who the command reads as: it reads the store directly, as `zs audit` does (every jobcenter)."""


def report(
    agreement_id: str,
    file_format: Annotated[ReportFormat, typer.Option("--format", help="pdf or xlsx.")] = "pdf",
    out: Annotated[
        Path | None, typer.Option(help="The file to write (default: the name the API gives).")
    ] = None,
    as_of: Annotated[datetime | None, typer.Option(help="As known at this time.")] = None,
    as_of_position: Annotated[int | None, typer.Option(help="As known at this position.")] = None,
    as_published: Annotated[
        datetime | None, typer.Option(help="From what was published by this time.")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="List the corrections published from then on.")
    ] = None,
) -> None:
    """Write the agreement's attainment report (targets with plan path and chart, goals,
    budgets, dialogues, corrections, the log position and chain hash it was computed from)."""

    as_of, as_published, since = (utc(moment) for moment in (as_of, as_published, since))

    async def work(store: EventStore) -> AgreementReport | None:
        position = await position_of(store, as_of, as_of_position)
        built = await agreement_report(
            store, agreement_id, position, as_of=as_of, as_published=as_published, since=since
        )
        read = ReadAt(store, None, CATCH_UP_TIMEOUT)
        return None if built is None else await with_type_positions(read, AUDITOR, built)

    built = run_with_store(work)
    if built is None:
        typer.echo(f"agreement {agreement_id!r} was not concluded by then", err=True)
        raise typer.Exit(1)
    path = out or Path(agreement_filename(built, file_format))
    path.write_bytes(agreement_file(built, file_format))
    typer.echo(f"wrote {path}: position {built.provenance.position}, hash {built.provenance.hash}")


def utc(moment: datetime | None) -> datetime | None:
    """A time given without a zone as UTC (typer parses `2022-05-01` without one)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
