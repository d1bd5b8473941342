"""`zs up`: the HTTP API's workers and the ingest, relay and projector as child processes, until
interrupted; `zs api`: the HTTP API's workers alone; `zs api-worker`: one worker. All are wired
by `services/bootstrap.py`."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import structlog
import typer
import uvicorn
import uvloop
from rich.console import Console

from events.store import EventStore
from infra.database import redact
from infra.embedded import broker_passwords
from infra.settings import Settings
from services.api.status import look
from services.bootstrap import (
    AlreadyRunning,
    Servers,
    api_and_processes,
    api_worker,
    noted_servers,
    servers,
    sole_up,
)
from services.cli.demo import demo_envelopes
from services.cli.national import SOURCES, national_envelopes
from services.cli.publish import Tally, publish_lines
from services.cli.tokens import demo_token
from services.pipeline.run import Part

log = structlog.get_logger()
STARTUP_POLL_S = 0.05
LISTEN_BACKLOG = 2048
PROJECTED_POLL_S = 0.2


DEMO_WAIT_S = 300.0
"""How long loading the demo waits for the ingest to settle it and the projector to apply it."""
NATIONAL_WAIT_S = 1800.0


@dataclass(frozen=True)
class Demo:
    """A set of demo data `zs up` can load on its first start."""

    description: str
    envelopes: Callable[[], Sequence[Mapping[str, object]]]
    wait_s: float
    """How long loading it waits for the ingest to settle it and the projector to apply it."""


DEMOS = {
    "seed": Demo("demo data (published agreements)", demo_envelopes, DEMO_WAIT_S),
    "national": Demo(
        "national demo (404 jobcenters, three years)", national_envelopes, NATIONAL_WAIT_S
    ),
}


def demo_sources() -> list[str]:
    """The sources of the demo data (the seed's and the national demo's): `zs up`'s broker
    channels unless ZS_BROKER_SOURCES is set."""
    return sorted({str(envelope["source"]) for envelope in demo_envelopes()} | set(SOURCES))


def with_default_sources(settings: Settings) -> Settings:
    """`settings` with the demo's sources as broker channels where none are configured."""
    if settings.broker_sources:
        return settings
    return settings.model_copy(update={"broker_sources": ",".join(demo_sources())})


async def publish_demo(
    store: EventStore,
    settings: Settings,
    broker_url: str,
    envelopes: Sequence[Mapping[str, object]],
    wait_s: float = DEMO_WAIT_S,
    console: Console | None = None,
) -> Tally | None:
    """Publish demo data as the upstream systems would (each envelope to its source's
    channel, as that source's broker user on the embedded broker) and wait until the
    projections have applied it; what became of it (None: not known in time)."""
    passwords = {} if settings.broker_url else broker_passwords(settings.data_dir)
    tally = await publish_lines(
        store, broker_url, [json.dumps(e, ensure_ascii=False).encode() for e in envelopes],
        wait_s, console or Console(quiet=True), passwords=passwords,
        channels=settings.source_names,
    )  # fmt: skip
    log.info("demo data published to zs.ingest.<source>", envelopes=len(envelopes),
             recorded=tally and tally.recorded, rejected=tally and tally.rejected)  # fmt: skip
    if tally is not None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await projected(store)
    return tally


async def projected(store: EventStore) -> None:
    """Return once every projection (and the relay) has applied the store's head."""
    while True:
        status = await look(store)
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


def listening_socket(settings: Settings) -> socket.socket:
    """The API's listening socket on `http_host:http_port`, which its workers serve."""
    try:
        family = socket.getaddrinfo(settings.http_host, settings.http_port,
                                    type=socket.SOCK_STREAM)[0][0]  # fmt: skip
        return socket.create_server(
            (settings.http_host, settings.http_port), family=family, backlog=LISTEN_BACKLOG
        )
    except OSError as error:
        raise SystemExit(
            f"the HTTP API could not start on port {settings.http_port}: {error}"
        ) from None


async def serve(
    settings: Settings,
    urls: Servers,
    console: Console,
    demos: Sequence[str],
    parts: Collection[Part] = tuple(Part),
) -> None:
    """Start the services `parts` and the HTTP API's workers, each a child process of its own;
    on the first start (empty store), load the `demos` (names in `DEMOS`); announce the URLs
    once ready (with the demo, once it is recorded and projected), run until SIGINT or SIGTERM
    (`zs api` runs no part: the API alone, publishing only its rejections)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with listening_socket(settings) as listening:
        async with api_and_processes(settings, urls, parts, listening) as running:
            if demos and await running.store.last_position() == 0:
                await load_demos(running.store, settings, urls, console, demos, stop)
            if not stop.is_set():
                announce(settings, urls, console)
                log.info("ready", position=await running.store.last_position())
            await stop.wait()


async def load_demos(
    store: EventStore,
    settings: Settings,
    urls: Servers,
    console: Console,
    demos: Sequence[str],
    stop: asyncio.Event,
) -> None:
    """Load the `demos` one after the other, each recorded and projected before the next;
    return early once `stop` is set."""
    for name in demos:
        demo = DEMOS[name]
        console.print(f"Loading the {demo.description} ...")
        console.file.flush()
        started = time.monotonic()
        loading = asyncio.create_task(
            publish_demo(store, settings, urls.broker_url, demo.envelopes(), demo.wait_s)
        )
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([loading, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not loading.done():  # stopped while loading
            loading.cancel()
            await asyncio.wait([loading])
            return
        if (tally := loading.result()) is not None:
            console.print(
                f"Demo data: {tally.recorded} recorded, {tally.rejected} rejected "
                f"({time.monotonic() - started:.0f} s)"
            )


async def serve_worker(settings: Settings, socket_fd: int, ready_fd: int) -> None:
    """One HTTP API worker: serve the listening socket `socket_fd` (bound by `zs up` or
    `zs api`) on uvloop with httptools' parser until SIGINT or SIGTERM; once serving, write a
    byte to `ready_fd` and close it."""
    listening = socket.socket(fileno=socket_fd)
    async with api_worker(settings) as app:
        config = uvicorn.Config(app, http="httptools", log_config=None, access_log=False)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        while not server.started and not serving.done():  # noqa: ASYNC110 uvicorn has no event
            await asyncio.sleep(STARTUP_POLL_S)
        if server.started:
            with contextlib.suppress(OSError):  # the parent may be gone
                os.write(ready_fd, b".")
        os.close(ready_fd)
        await serving


def run_api_worker(settings: Settings, socket_fd: int, ready_fd: int) -> None:
    """Run one HTTP API worker on uvloop until stopped (SIGTERM as SIGINT: a clean exit)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve_worker(settings, socket_fd, ready_fd))


def run_api(settings: Settings) -> None:
    """Serve only the HTTP API (and the dashboard) on the configured servers until stopped."""
    console = Console(soft_wrap=True)
    urls = Servers(settings.database_url or "", settings.broker_url or "")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, urls, console, demos=(), parts=()))
    console.print("stopped")


def run_up(settings: Settings, demos: Sequence[str]) -> None:
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
            asyncio.run(serve(settings, urls, console, demos))
    except AlreadyRunning as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from None
    console.print("stopped")
