"""`zs up`: everything in one process until interrupted."""

import asyncio
import contextlib
import json

import structlog
import uvicorn
from rich.console import Console

from infra.database import redact
from infra.settings import Settings
from infra.tokens import TokenVerifier
from services.api.app import create_app
from services.bootstrap import Servers, noted_servers, servers
from services.cli.demo import demo_envelopes
from services.cli.tokens import demo_token
from services.pipeline.channels import publish_envelopes
from services.pipeline.run import Part, Running, services

log = structlog.get_logger()
STARTUP_POLL_S = 0.05


async def load_demo_once(running: Running) -> None:
    """On the first start (empty store), publish the demo data as an upstream system would."""
    if await running.store.last_position() > 0:
        return
    envelopes = demo_envelopes()
    await publish_envelopes(running.transport, [json.dumps(e).encode() for e in envelopes])
    log.info("demo data published to zs.ingest", envelopes=len(envelopes))


async def serve(settings: Settings, urls: Servers, console: Console, load_demo: bool) -> None:
    """Start the services and the HTTP API, announce the URLs once ready, run until stopped."""
    async with services(settings, urls, set(Part)) as running:
        if load_demo:
            await load_demo_once(running)
        config = uvicorn.Config(
            create_app(running.store, running.ingestor, settings, TokenVerifier(settings)),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 uvicorn has no event
            await asyncio.sleep(STARTUP_POLL_S)
        if server.started:
            console.print("[bold green]Zielsteuerung is up[/]  (Ctrl-C stops it)")
            local_key = not (settings.auth_jwks_url or settings.auth_public_key_file)
            console.print(f"  API       http://{settings.http_host}:{settings.http_port}")
            if local_key:
                console.print(f"  token     {demo_token()}")
            console.print(f"  broker    {redact(urls.broker_url)}")
            console.print(f"  database  {redact(urls.database_url)}")
            if local_key:
                console.print("  (the token is an auditor's, signed with the local key in the "
                              "data folder; `zs token issue` mints others)")  # fmt: skip
            console.file.flush()  # a supervisor reading a pipe sees the URLs at once
            log.info("ready", position=await running.store.last_position())
        await serving
        if not server.started:
            raise SystemExit(f"the HTTP API could not start on port {settings.http_port}")


def run_up(settings: Settings, load_demo: bool) -> None:
    """Start the embedded servers as needed and serve until Ctrl-C; then stop them cleanly."""
    console = Console(soft_wrap=True)  # URLs stay on one line, whatever the width
    with (
        contextlib.suppress(KeyboardInterrupt),
        servers(settings) as urls,
        noted_servers(settings, urls),
    ):
        asyncio.run(
            serve(settings, urls, console, load_demo)
        )  # uvicorn re-raises Ctrl-C once it stopped
    console.print("stopped")
