"""`zs projections ...`: rebuild a projection, show where each one stands."""

import asyncio
import time
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Column, Table

from infra.roles import DbRole
from infra.settings import get_settings
from projections.engine.checkpoints import ProjectionStatus
from projections.engine.runner import ProjectionError, ProjectionRunner
from projections.registry import PROJECTIONS
from services.bootstrap import database_server, open_runner, open_store

projections = typer.Typer(help="Rebuild and inspect the read models.", no_args_is_help=True)


async def run_rebuild(database_url: str, names: Sequence[str]) -> dict[str, tuple[int, float]]:
    """Rebuild the projections `names` at once, with a progress bar each on stderr; each one's
    final position and seconds."""
    async with open_runner(database_url, get_settings()) as runner:
        with Progress(console=Console(stderr=True), transient=True) as progress:

            async def rebuilt(name: str) -> tuple[int, float]:
                task = progress.add_task(f"rebuilding {name}", total=None)
                began = time.perf_counter()
                position = await runner.rebuild(
                    name, lambda done, head: progress.update(task, completed=done, total=head)
                )
                return position, time.perf_counter() - began

            done = await asyncio.gather(*(rebuilt(name) for name in names))
    return dict(zip(names, done, strict=True))


async def run_status(database_url: str) -> list[ProjectionStatus]:
    """Each projection's checkpoint, the head, the lag and the versions."""
    async with open_store(database_url, get_settings()) as store:
        return await ProjectionRunner(store.pool, store, PROJECTIONS).status()


@projections.command()
def rebuild(
    names: Annotated[
        list[str] | None, typer.Argument(help="Projections (default: every one).")
    ] = None,
) -> None:
    """Rebuild the projections NAMES (all at once; none named: every projection) from position 0
    into fresh tables and swap each in when it is done."""
    wanted = names or [projection.name for projection in PROJECTIONS]
    with database_server(get_settings(), [DbRole.PROJECTOR]) as database_url:
        try:
            done = asyncio.run(run_rebuild(database_url, wanted))
        except ProjectionError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(1) from None
    for name, (position, seconds) in done.items():
        typer.echo(f"{name} rebuilt up to position {position} in {seconds:.1f} s")


@projections.command()
def status() -> None:
    """Show each projection's checkpoint, the store's head, the lag and the version of its
    tables (with its code's, when that differs: the projector rebuilds it)."""
    with database_server(get_settings(), [DbRole.API]) as database_url:
        rows = asyncio.run(run_status(database_url))
    headers = ("checkpoint", "head", "lag (events)", "lag (s)", "version")
    numbers = (Column(header, justify="right") for header in headers)
    table = Table("projection", *numbers)
    for row in rows:
        version = str(row.version)
        if row.version != row.declared:
            version += f" (code {row.declared})"
        table.add_row(
            row.name,
            str(row.checkpoint),
            str(row.head),
            str(row.lag),
            f"{row.lag_seconds:.1f}",
            version,
        )
    Console().print(table)
