"""`zs up`: everything in one process until interrupted."""

import asyncio
import contextlib
from typing import Any

import structlog
import uvicorn
from rich.console import Console

from infra.database import redact
from infra.settings import Settings
from services.api import create_app
from services.ingest import Ingestor
from services.runtime import Servers, open_store, servers

log = structlog.get_logger()
STARTUP_POLL_S = 0.05


async def serve(settings: Settings, urls: Servers, console: Console) -> None:
    """Migrate, start the HTTP API, announce the URLs once ready, run until stopped."""
    async with open_store(urls.database_url, settings) as store:

        async def publish_rejection(payload: dict[str, Any]) -> None:
            log.info("zs.rejected is not wired yet", delivery_id=payload["delivery_id"])

        config = uvicorn.Config(
            create_app(store, Ingestor(store, publish_rejection)),
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
            console.print(f"  API       http://{settings.http_host}:{settings.http_port}")
            console.print(f"  broker    {redact(urls.broker_url)}")
            console.print(f"  database  {redact(urls.database_url)}")
            console.file.flush()  # a supervisor reading a pipe sees the URLs at once
            log.info("ready", position=await store.last_position())
        await serving
        if not server.started:
            raise SystemExit(f"the HTTP API could not start on port {settings.http_port}")


def run_up(settings: Settings, load_demo: bool) -> None:
    """Start the embedded servers as needed and serve until Ctrl-C; then stop them cleanly."""
    console = Console(soft_wrap=True)  # URLs stay on one line, whatever the width
    if load_demo:
        log.info("demo data is not available yet: it arrives with the attainment issue")
    with contextlib.suppress(KeyboardInterrupt), servers(settings) as urls:
        asyncio.run(serve(settings, urls, console))  # uvicorn re-raises Ctrl-C once it stopped
    console.print("stopped")
