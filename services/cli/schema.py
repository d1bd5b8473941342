"""`zs schema export`: the event catalogue's JSON Schemas, one file per event type."""

import json
from pathlib import Path

import typer

from events.catalogue import json_schemas

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "urn:zielsteuerung:schema:v1:"
"""`$id` of an exported schema: this prefix and its file name (a URN: nothing to fetch)."""

schema = typer.Typer(help="JSON Schemas of the event catalogue.", no_args_is_help=True)


@schema.command("export")
def export_schemas(directory: Path) -> None:
    """Write one JSON Schema file per event type (and the envelope) into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = json_schemas()
    for file_name, document in schemas.items():
        identified = {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID_BASE + file_name}
        text = json.dumps(identified | document, indent=2)
        (directory / file_name).write_text(text + "\n")
    typer.echo(f"{len(schemas)} schemas written to {directory}")
