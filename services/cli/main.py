"""The `zs` command: its root, the service commands (`up`, `ingest`, `relay`, `project`, `api`,
`check`), `publish` and `migrate`; `import` and each command group (`audit`, `demo`,
`projections`, `token`, `schema`, `asyncapi`) have a module of their own."""

import asyncio
import contextlib
import signal
from collections.abc import Collection, Mapping
from pathlib import Path

import typer
import uvloop
from rich.console import Console

from events.store import EventStore, create_pool
from infra.broker import create_transport
from infra.logging import configure_logging
from infra.roles import DbRole
from infra.settings import get_settings
from services.api.status import broker_problem
from services.bootstrap import (
    Servers,
    database_server,
    open_store,
    own_url,
    prepare_database,
    run_until_stopped,
    running_servers,
    servers,
)
from services.cli.asyncapi import asyncapi
from services.cli.audit import audit
from services.cli.ba_import import import_command
from services.cli.demos import demos
from services.cli.projections import projections
from services.cli.publish import NotJson, Tally, publish_lines, read_lines, sender_routes
from services.cli.report import report
from services.cli.schema import schema
from services.cli.tokens import tokens
from services.cli.up import run_api, run_api_worker, run_up
from services.pipeline.run import Part

app = typer.Typer(help="Zielsteuerung: SGB II target agreements, event-sourced.")
app.add_typer(schema, name="schema")
app.add_typer(asyncapi, name="asyncapi")
app.add_typer(audit, name="audit")
app.add_typer(demos, name="demo")
app.add_typer(projections, name="projections")
app.add_typer(tokens, name="token")
app.command("import")(import_command)
app.command()(report)


SERVICE_COMMANDS = {"up", "ingest", "relay", "project", "api", "api-worker"}
"""The commands that run until stopped and log as they go; the others print their answer and
log warnings and errors only (unless ZS_LOG_LEVEL is set)."""


@app.callback()
def main(context: typer.Context) -> None:
    """Set up logging for every command."""
    settings = get_settings()
    if context.invoked_subcommand not in SERVICE_COMMANDS and (
        "log_level" not in settings.model_fields_set
    ):
        settings = settings.model_copy(update={"log_level": "warning"})
    configure_logging(settings)


@app.command()
def up(
    demo: bool = typer.Option(
        True, help="Load the demo data (published agreements) on first start."
    ),
    national: bool = typer.Option(
        False,
        help="Load the national demo (404 jobcenters, three years) on first start, after the "
        "demo data (a few minutes; `zs demo national` loads it later).",
    ),
) -> None:
    """Run everything until Ctrl-C: the HTTP API and dashboard (ZS_API_WORKERS worker
    processes on one port), the ingest, relay and projector, each in a child process; on
    embedded PostgreSQL and Redis under ZS_DATA_DIR unless ZS_DATABASE_URL and ZS_BROKER_URL
    are set. One per data folder."""
    run_up(get_settings(), demos=[*(["seed"] if demo else []), *(["national"] if national else [])])


def require_servers(roles: Collection[DbRole]) -> None:
    """Refuse to start a single service without configured servers: the broker, and the
    database as each of `roles` (its own URL, else the owner's to derive a login from)."""
    settings = get_settings()
    missing = [] if settings.broker_url else ["ZS_BROKER_URL"]
    if not settings.database_url:
        missing += [role.setting for role in roles if not own_url(settings, role)]
    if missing:
        raise typer.BadParameter(
            f"set {', '.join(missing)}: a single service joins servers that run already "
            "(`zs up` runs everything on embedded ones; see docs/operations.md for the logins)"
        )


def run_part(part: Part, ready_fd: int | None = None) -> None:
    """Run one service on uvloop (like the API workers) until SIGINT or SIGTERM, on the
    configured servers."""
    settings = get_settings()
    require_servers([part.role])
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop during start-up, too
    with contextlib.suppress(KeyboardInterrupt), servers(settings, [part.role]) as urls:
        uvloop.run(run_until_stopped(settings, urls, {part}, ready_fd))


READY_FD = typer.Option(
    None, hidden=True, help="A pipe to write one byte to once running (`zs up` waits for it)."
)


@app.command()
def ingest(ready_fd: int | None = READY_FD) -> None:
    """Run only the ingest: zs.ingest -> event store (one of several replicas, if you like)."""
    run_part(Part.INGEST, ready_fd)


@app.command()
def relay(ready_fd: int | None = READY_FD) -> None:
    """Run only the relay: event store -> zs.events."""
    run_part(Part.RELAY, ready_fd)


@app.command()
def project(ready_fd: int | None = READY_FD) -> None:
    """Run only the projector: event store -> read models (it follows the store; zs.events and
    the database's notifications only wake it)."""
    run_part(Part.PROJECT, ready_fd)


@app.command()
def api() -> None:
    """Serve only the HTTP API and the dashboard (no ingest, relay or projector)."""
    require_servers([DbRole.API, DbRole.INGEST])
    run_api(get_settings())


@app.command("api-worker", hidden=True)
def api_worker(
    socket_fd: int = typer.Option(help="The listening socket to serve (bound by the parent)."),
    ready_fd: int = typer.Option(help="A pipe to write one byte to once serving."),
) -> None:
    """One HTTP API worker process, started by `zs up` and `zs api` (ZS_API_WORKERS of them)."""
    run_api_worker(get_settings(), socket_fd, ready_fd)


CHECK_TIMEOUT_S = 10.0


async def check_servers(databases: Mapping[str | None, str], broker_url: str) -> list[str]:
    """What is unusable of the databases (URL by the role to switch to) and the broker (empty:
    all answer)."""
    problems = []
    for role, database_url in databases.items():
        try:
            pool = await asyncio.wait_for(create_pool(database_url, role=role), CHECK_TIMEOUT_S)
            try:
                await EventStore(pool).last_position()
            finally:
                await pool.close()
        except Exception as error:
            problems.append(f"database not usable as {role or 'the owner'}: "
                            f"{type(error).__name__}: {error}")  # fmt: skip
    transport = create_transport(broker_url)
    try:
        await asyncio.wait_for(transport.connect(), CHECK_TIMEOUT_S)
        if problem := await broker_problem(transport):
            problems.append(problem)
    except Exception as error:
        problems.append(f"broker unreachable: {type(error).__name__}: {error}")
    finally:
        with contextlib.suppress(Exception):
            await transport.close()
    return problems


@app.command()
def check() -> None:
    """Exit 0 when the databases and broker answer, else 1 (for health checks): the configured
    ones, else those of the `zs up` running on ZS_DATA_DIR."""
    settings = get_settings()
    own: dict[str | None, str] = {
        role.group: url for role in DbRole if (url := own_url(settings, role))
    }
    running = running_servers(settings)
    if running and not own and not settings.database_url:
        settings = settings.model_copy(update={"database_url": running.database_url})
    if running and not settings.broker_url:
        settings = settings.model_copy(update={"broker_url": running.broker_url})
    databases: dict[str | None, str] = own or {None: settings.database_url or ""}
    missing = [] if settings.broker_url else ["ZS_BROKER_URL"]
    if not own and not settings.database_url:
        missing.append("ZS_DATABASE_URL")
    if missing:
        raise typer.BadParameter(
            f"set {', '.join(missing)}, or start `zs up` on this data folder (ZS_DATA_DIR)"
        )
    assert settings.broker_url
    problems = asyncio.run(check_servers(databases, settings.broker_url))
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("database and broker answer")


@app.command()
def publish(
    file: Path,
    wait: float = typer.Option(30.0, help="Seconds to wait for the outcome counts."),
    source: str | None = typer.Option(
        None, help="Publish every line to zs.ingest.SOURCE (default: each to its own source's)."
    ),
) -> None:
    """Publish the envelopes of an NDJSON file, each to its source's channel zs.ingest.<source>
    (as that source's broker user on the embedded broker); print what became of them. A file
    with a line that is not JSON is refused whole, naming each such line."""
    settings = get_settings()
    try:
        lines = read_lines(file)
    except OSError as error:
        typer.echo(f"Error: cannot read {file}: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None
    except NotJson as error:
        typer.echo(f"Error: {file} holds lines that are not JSON; nothing published", err=True)
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    console = Console(stderr=True)
    passwords, channels = sender_routes(settings)

    async def go(urls: Servers) -> Tally | None:
        async with open_store(urls.database_url, settings) as store:
            return await publish_lines(
                store, urls.broker_url, lines, wait, console, source=source,
                passwords=passwords, channels=channels,
            )  # fmt: skip

    with servers(settings, [DbRole.API]) as urls:
        tally = asyncio.run(go(urls))
    if tally is None:
        typer.echo(f"published {len(lines)}; outcome not known yet (is the ingest running?)")
        return
    typer.echo(
        f"published {tally.published}: recorded {tally.recorded}, duplicate {tally.duplicate}, "
        f"rejected {tally.rejected}"
    )


@app.command()
def migrate() -> None:
    """Apply the SQL migrations that are not applied yet (as the owner, ZS_DATABASE_URL), then
    create the projection tables that are missing."""
    with database_server(get_settings(), roles=()) as database_url:
        applied = asyncio.run(prepare_database(database_url))
    typer.echo(f"{len(applied)} migration(s) applied")
