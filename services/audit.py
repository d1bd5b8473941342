"""`zs audit ...`: commands for auditors."""

import asyncio

import typer
from rich.console import Console
from rich.progress import Progress

from events.verify import ChainVerdict, verify_chain
from infra.settings import get_settings
from services.runtime import database_server, open_store

audit = typer.Typer(help="Verify and replay the event log.", no_args_is_help=True)


async def run_verify(database_url: str) -> ChainVerdict:
    """Verify the chain with a progress bar on stderr."""
    async with open_store(database_url, get_settings()) as store:
        total = await store.last_position()
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("verifying", total=total)
            return await verify_chain(store, lambda n: progress.advance(task, n))


@audit.command()
def verify() -> None:
    """Check the hash chain; exit 0 when it holds, else name the first broken position."""
    with database_server(get_settings()) as database_url:
        verdict = asyncio.run(run_verify(database_url))
    if verdict.intact:
        typer.echo(f"chain intact: {verdict.checked} events verified")
        return
    typer.echo(
        f"chain broken at position {verdict.broken_at}: {verdict.problem} "
        f"({verdict.checked} events before it verified)",
        err=True,
    )
    raise typer.Exit(1)
