"""The `zs` command."""

import asyncio
import json
from pathlib import Path

import typer

from events.catalogue import json_schemas
from infra.logging import configure_logging
from infra.migrate import migrate as apply_migrations
from infra.settings import get_settings
from services.audit import audit
from services.projections_cli import projections
from services.runtime import database_server
from services.up import run_up

app = typer.Typer(help="Zielsteuerung: SGB II target agreements, event-sourced.")
schema = typer.Typer(help="JSON Schemas of the event catalogue.", no_args_is_help=True)
app.add_typer(schema, name="schema")
app.add_typer(audit, name="audit")
app.add_typer(projections, name="projections")


@app.callback()
def main() -> None:
    """Set up logging for every command."""
    configure_logging(get_settings())


@app.command()
def up(demo: bool = typer.Option(True, help="Load the demo data from the seeds.")) -> None:
    """Run everything in one process until Ctrl-C (embedded servers unless configured)."""
    run_up(get_settings(), load_demo=demo)


@app.command()
def migrate() -> None:
    """Apply the SQL migrations that are not applied yet."""
    with database_server(get_settings()) as database_url:
        applied = asyncio.run(apply_migrations(database_url))
    typer.echo(f"{len(applied)} migration(s) applied")


@schema.command("export")
def export_schemas(directory: Path) -> None:
    """Write one JSON Schema file per event type (and the envelope) into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = json_schemas()
    for file_name, document in schemas.items():
        (directory / file_name).write_text(json.dumps(document, indent=2) + "\n")
    typer.echo(f"{len(schemas)} schemas written to {directory}")
