"""`zs asyncapi export`: the AsyncAPI document of the event channels."""

import json
from pathlib import Path

import typer

from infra.settings import get_settings
from services.pipeline.contract import asyncapi_document

asyncapi = typer.Typer(help="The AsyncAPI document of the event channels.", no_args_is_help=True)


@asyncapi.command("export")
def export_asyncapi(file: Path) -> None:
    """Write the AsyncAPI document of zs.ingest, zs.events and zs.rejected to FILE."""
    document = asyncapi_document(get_settings().broker_url)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(document, indent=2) + "\n")
    typer.echo(f"AsyncAPI {document['asyncapi']} written to {file}")
