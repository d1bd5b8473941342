"""`zs up`: the HTTP API in this process, the ingest, relay and projector as child processes,
until interrupted; `zs api`: the HTTP API alone. Both are wired by `services/bootstrap.py`."""

import asyncio
import contextlib
import json
from collections.abc import Collection

import structlog
import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from infra.database import redact
from infra.embedded import broker_passwords
from infra.settings import Settings
from services.api.status import probe
from services.bootstrap import (
    AlreadyRunning,
    Running,
    Servers,
    api_and_processes,
    noted_servers,
    servers,
    sole_up,
)
from services.cli.demo import demo_envelopes
from services.cli.publish import Tally, publish_lines
from services.cli.tokens import demo_token
from services.pipeline.run import Part

log = structlog.get_logger()
STARTUP_POLL_S = 0.05
PROJECTED_POLL_S = 0.2


DEMO_WAIT_S = 300.0
"""How long loading the demo waits for the ingest to settle it and the projector to apply it."""


def demo_sources() -> list[str]:
    """The sources of the demo data: `zs up`'s broker channels unless ZS_BROKER_SOURCES is set."""
    return sorted({str(envelope["source"]) for envelope in demo_envelopes()})


def with_default_sources(settings: Settings) -> Settings:
    """`settings` with the demo's sources as broker channels where none are configured."""
    if settings.broker_sources:
        return settings
    return settings.model_copy(update={"broker_sources": ",".join(demo_sources())})


async def publish_demo(
    running: Running, app: FastAPI, settings: Settings, broker_url: str
) -> Tally | None:
    """Publish the demo data as the upstream systems would (each envelope to its source's
    channel, as that source's broker user on the embedded broker) and wait until the
    projections have applied it; what became of it (None: not known in time)."""
    envelopes = demo_envelopes()
    passwords = {} if settings.broker_url else broker_passwords(settings.data_dir)
    tally = await publish_lines(
        running.store, broker_url, [json.dumps(e).encode() for e in envelopes], DEMO_WAIT_S,
        Console(quiet=True), passwords=passwords, channels=settings.source_names,
    )  # fmt: skip
    log.info("demo data published to zs.ingest.<source>", envelopes=len(envelopes),
             recorded=tally and tally.recorded, rejected=tally and tally.rejected)  # fmt: skip
    if tally is not None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DEMO_WAIT_S):
                await projected(app)
    return tally


async def projected(app: FastAPI) -> None:
    """Return once every projection (and the relay) has applied the store's head."""
    while True:
        status = await probe(app)
        if status.database and not any(status.lag_events.values()):
            return
        await asyncio.sleep(PROJECTED_POLL_S)


def announce(settings: Settings, urls: Servers, console: Console) -> None:
    """The banner: the URLs to use, a token for the dashboard."""
    console.print("[bold green]Zielsteuerung is up[/]  (Ctrl-C stops it)")
    local_key = not (settings.auth_jwks_url or settings.auth_public_key_file)
    token = demo_token() if local_key else None
    api = f"http://{settings.http_host}:{settings.http_port}"
    console.print(f"  API       {api}")
    if token:
        console.print(f"  token     {token}")
        console.print(f"  dashboard {api}/dashboard/?token={token}")
    else:
        console.print(f"  dashboard {api}/dashboard/")
    console.print(f"  broker    {redact(urls.broker_url)}")
    if urls.database_url:
        console.print(f"  database  {redact(urls.database_url)}")
    if local_key:
        console.print("  (the token is an auditor's, signed with the local key in the "
                      "data folder; `zs token issue` mints others)")  # fmt: skip
    console.file.flush()  # a supervisor reading a pipe sees the URLs at once


async def serve(
    settings: Settings,
    urls: Servers,
    console: Console,
    load_demo: bool,
    parts: Collection[Part] = tuple(Part),
) -> None:
    """Start the services `parts`, each a child process of its own, and the HTTP API in this
    one; on the first start (empty store) with `load_demo`, load the demo data; announce the
    URLs once ready (with the demo, once it is recorded and projected), run
    until stopped (`zs api` runs no part: the API alone, publishing only its rejections)."""
    async with api_and_processes(settings, urls, parts) as (app, running):
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 uvicorn has no event
            await asyncio.sleep(STARTUP_POLL_S)
        if server.started and load_demo and await running.store.last_position() == 0:
            console.print("Loading the demo data (published agreements) ...")
            console.file.flush()
            demo = asyncio.create_task(publish_demo(running, app, settings, urls.broker_url))
            await asyncio.wait([demo, serving], return_when=asyncio.FIRST_COMPLETED)
            if not demo.done():  # stopped while loading
                demo.cancel()
                await asyncio.wait([demo])
            elif (tally := demo.result()) is not None:
                console.print(f"Demo data: {tally.recorded} recorded, {tally.rejected} rejected")
        if server.started and not serving.done():
            announce(settings, urls, console)
            log.info("ready", position=await running.store.last_position())
        await serving
        if not server.started:
            raise SystemExit(f"the HTTP API could not start on port {settings.http_port}")


def run_api(settings: Settings) -> None:
    """Serve only the HTTP API (and the dashboard) on the configured servers until stopped."""
    console = Console(soft_wrap=True)
    urls = Servers(settings.database_url or "", settings.broker_url or "")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, urls, console, load_demo=False, parts=()))
    console.print("stopped")


def run_up(settings: Settings, load_demo: bool) -> None:
    """Start the embedded servers as needed and serve until Ctrl-C; then stop them cleanly.
    One `zs up` per data folder: a second one is refused."""
    console = Console(soft_wrap=True)  # URLs stay on one line, whatever the width
    settings = with_default_sources(settings)
    try:
        with (
            sole_up(settings),
            contextlib.suppress(KeyboardInterrupt),
            servers(settings) as urls,
            noted_servers(settings, urls),
        ):
            asyncio.run(
                serve(settings, urls, console, load_demo)
            )  # uvicorn re-raises Ctrl-C once it stopped
    except AlreadyRunning as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from None
    console.print("stopped")
