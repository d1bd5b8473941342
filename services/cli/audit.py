"""`zs audit ...`: commands for auditors (the contract, audit CLI)."""

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from events.anchor import Anchor, anchor_head, check_anchor
from events.store import EventStore
from events.verify import ChainVerdict, verify_chain
from infra.roles import DbRole
from infra.settings import get_settings
from infra.tokens import local_signing_key
from projections.attainment.results import TargetChange
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from services.bootstrap import database_server, open_store
from services.pipeline.anchors import anchor_files
from services.replay import attainment_at, explain, position_of

audit = typer.Typer(help="Verify and replay the event log.", no_args_is_help=True)
stderr = Console(stderr=True)
T = TypeVar("T")


def run_with_store(work: Callable[[EventStore], Awaitable[T]], role: DbRole = DbRole.API) -> T:
    """Run `work` against the configured (or embedded) store, connected as `role` (the API's
    read-only login by default)."""
    settings = get_settings()

    async def go(url: str) -> T:
        async with open_store(url, settings, role) as store:
            return await work(store)

    with database_server(settings, [role]) as url:
        return asyncio.run(go(url))


async def run_verify(store: EventStore) -> ChainVerdict:
    """Verify the chain with a progress bar on stderr."""
    total = await store.last_position()
    with Progress(console=stderr, transient=True) as progress:
        task = progress.add_task("verifying", total=total)
        return await verify_chain(store, lambda n: progress.advance(task, n))


@audit.command()
def verify(
    anchor: Annotated[
        list[Path],
        typer.Option(help="An anchor file, or a directory of them, the log must still hold."),
    ] = [],  # noqa: B006
    views: Annotated[
        bool, typer.Option("--views", help="Recompute every read model and compare.")
    ] = False,
) -> None:
    """Check the hash chain, that the log still holds every anchored head and, with --views,
    that every read model equals its recomputation from the log; exit 0 when all hold, else
    name the first broken position, failed anchor or differing row."""
    verdict = run_with_store(run_verify)
    if not verdict.intact:
        typer.echo(
            f"chain broken at position {verdict.broken_at}: {verdict.problem} "
            f"({verdict.checked} events before it verified)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"chain intact: {verdict.checked} events verified")
    if anchor:
        check_anchors(anchor)
    if views:
        for name in (projection.name for projection in PROJECTIONS):

            async def compare(store: EventStore, name: str = name) -> str | None:
                return await ProjectionRunner(store.pool, store, PROJECTIONS).verify(name)

            if difference := run_with_store(compare, DbRole.PROJECTOR):  # scratch tables
                typer.echo(f"view {name} differs from the log: {difference}", err=True)
                raise typer.Exit(1)
            typer.echo(f"view {name}: equal to its recomputation from the log")


def check_anchors(paths: list[Path]) -> None:
    """Check every anchor file named, or found in a named directory, against the log; exit 1
    naming the first the log no longer holds."""
    public_key = local_signing_key(get_settings()).public_key()
    named = {path: anchor_files(path) if path.is_dir() else [path] for path in paths}
    held = {file: Anchor.model_validate_json(file.read_text()) for files in named.values()
            for file in files}  # fmt: skip

    async def check(store: EventStore) -> list[str | None]:
        return [await check_anchor(store, anchor, public_key) for anchor in held.values()]

    for (file, anchor), problem in zip(held.items(), run_with_store(check), strict=True):
        if problem:
            typer.echo(f"anchor {file} (position {anchor.position}): {problem}", err=True)
            raise typer.Exit(1)
    for path, files in named.items():
        if path.is_dir():
            typer.echo(f"anchors in {path}: the log still holds all {len(files)}")
        else:
            typer.echo(f"anchor {path}: the log still holds position {held[path].position}")


@audit.command("anchor")
def write_anchor(
    out: Annotated[Path | None, typer.Option(help="Write it to this file, not stdout.")] = None,
) -> None:
    """Sign the log's head (position, hash, time) with the local key kept outside the
    database; keep the output elsewhere and check it later with `verify --anchor`."""
    key = local_signing_key(get_settings())
    anchored = run_with_store(lambda store: anchor_head(store, key))
    if anchored is None:
        typer.echo("the log is empty: nothing to anchor", err=True)
        raise typer.Exit(1)
    text = anchored.model_dump_json(indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        typer.echo(f"anchored position {anchored.position} in {out}")


@audit.command()
def replay(
    until_time: Annotated[
        datetime | None, typer.Option(help="Only events recorded by then.")
    ] = None,
    until_position: Annotated[int | None, typer.Option(help="Only up to this position.")] = None,
    stream: Annotated[str | None, typer.Option(help="Only this stream, e.g. agreement-x.")] = None,
) -> None:
    """Print recorded events as NDJSON, in position order, as known at a moment."""

    async def work(store: EventStore) -> None:
        until = await position_of(store, until_time, until_position)
        if stream is not None:
            for event in await store.read_stream(stream):
                if event.position <= until:
                    sys.stdout.write(event.model_dump_json() + "\n")
            return
        with Progress(console=stderr, transient=True) as progress:
            task = progress.add_task("replaying", total=until)
            async for page in store.read_all(until=until):
                sys.stdout.write("".join(event.model_dump_json() + "\n" for event in page))
                progress.advance(task, len(page))

    run_with_store(work)


@audit.command("attainment")
def show_attainment(
    agreement_id: str,
    as_of: Annotated[datetime | None, typer.Option(help="As it was known at this time.")] = None,
) -> None:
    """Print the agreement's attainment (JSON), recomputed from the log as known at a time."""

    async def work(store: EventStore) -> str | None:
        position = await position_of(store, as_of, None)
        result = await attainment_at(store, agreement_id, position)
        if result is None:
            return None
        return result.model_copy(update={"position": position}).model_dump_json(indent=2)

    answer = run_with_store(work)
    if answer is None:
        typer.echo(f"agreement {agreement_id!r} was not concluded by then", err=True)
        raise typer.Exit(1)
    typer.echo(answer)


@audit.command("explain")
def explain_changes(
    agreement_id: str,
    from_: Annotated[datetime, typer.Option("--from", help="Start (exclusive).")],
    to: Annotated[datetime, typer.Option("--to", help="End (inclusive).")],
    as_json: Annotated[bool, typer.Option("--json", help="NDJSON, one change per line.")] = False,
) -> None:
    """Which events between two moments changed which target's result, from what to what."""

    async def work(store: EventStore) -> list[TargetChange] | None:
        start = await position_of(store, from_, None)
        end = await position_of(store, to, None)
        return await explain(store, agreement_id, start, end)

    found = run_with_store(work)
    if found is None:
        typer.echo(f"agreement {agreement_id!r} was not concluded by then", err=True)
        raise typer.Exit(1)
    for change in found:
        typer.echo(change.model_dump_json() if as_json else describe(change))
    if not found and not as_json:
        typer.echo("no result changed in that interval")


def describe(change: TargetChange) -> str:
    """One change as a line for people."""
    fields = ", ".join(
        f"{name} {old} -> {new}" for name, (old, new) in change.changed_fields().items()
    )
    if change.old is None:
        fields = f"set ({fields})"
    elif change.new is None:
        fields = "withdrawn"
    return (
        f"position {change.position} {change.event_type} ({change.recorded_at:%Y-%m-%d %H:%M}): "
        f"{change.target_id}: {fields}"
    )
