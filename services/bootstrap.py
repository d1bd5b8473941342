"""The composition root: every entry point (the `zs` commands, `zs up`'s API and its service
processes) gets its settings, servers, database pools, broker transport, services and HTTP app
from here; the pipeline and the API receive what they need and wire nothing themselves.

With no URLs configured, `zs up` starts the embedded servers and notes their URLs in
`<data dir>/servers.json` while it runs; other commands (`zs publish`, `zs audit ...`) use
those, so they talk to the same Redis and PostgreSQL instead of starting their own.

Each service connects with its own login (`infra/roles.py`): the URL its setting names, else a
login derived from the owner's URL. Only the owner's URL migrates.
"""

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI

from events.store import EventStore, create_pool
from infra.broker import Transport, create_transport
from infra.database import redact
from infra.embedded import embedded_postgres_server, embedded_redis_server
from infra.migrate import Migration, check_applied, migrate
from infra.roles import DbRole, derived_logins
from infra.settings import Settings
from infra.tokens import TokenVerifier
from projections.engine.runner import ProjectionRunner
from projections.engine.workers import Workers, worker_count
from projections.registry import PROJECTIONS
from services.api.app import create_app
from services.pipeline.channels import publish_rejections
from services.pipeline.children import children
from services.pipeline.ingest import Ingestor
from services.pipeline.run import Part, running_parts

SERVERS_FILE = "servers.json"
LOCK_FILE = "up.lock"
CHILD_METRICS_DIR = "metrics"
"""Under the data directory: where `zs up`'s service processes write their Prometheus metrics
(prometheus_client's multiprocess mode); emptied on every start."""
log = structlog.get_logger()


@dataclass(frozen=True)
class Servers:
    """URLs of the database and the broker in use."""

    database_url: str
    """The owner's URL; empty when only the services' own URLs are configured."""
    broker_url: str


def running_servers(settings: Settings) -> Servers | None:
    """The servers of a `zs up` that is running on this data directory, if any."""
    try:
        noted = json.loads((settings.data_dir / SERVERS_FILE).read_text())
        os.kill(noted.pop("pid"), 0)
    except (OSError, ValueError, KeyError):
        return None
    return Servers(**noted)


class AlreadyRunning(Exception):
    """Another `zs up` runs on the data directory."""


@contextlib.contextmanager
def sole_up(settings: Settings) -> Iterator[None]:
    """Hold `<data dir>/up.lock` while the block runs: one `zs up` per data directory (the
    lock goes with the process, also when it is killed)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"`zs up` runs already on {settings.data_dir.resolve()}; stop it first, or "
                "give this one a data folder of its own (ZS_DATA_DIR)"
            ) from None
        yield


@contextlib.contextmanager
def noted_servers(settings: Settings, servers: Servers) -> Iterator[None]:
    """Note `servers` for other commands while the block runs."""
    path: Path = settings.data_dir / SERVERS_FILE
    # Owner only: the broker URL carries the services' broker password.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(asdict(servers) | {"pid": os.getpid()}))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def own_url(settings: Settings, role: DbRole) -> str | None:
    """The URL configured for `role`'s service, if any."""
    url: str | None = getattr(settings, f"{role.value}_database_url")
    return url


@contextlib.contextmanager
def database_server(settings: Settings, roles: Collection[DbRole] = tuple(DbRole)) -> Iterator[str]:
    """The owner's URL: configured, a running `zs up`'s, or an embedded PostgreSQL's; empty
    when no owner is configured and every one of `roles` has a URL of its own."""
    if settings.database_url:
        yield settings.database_url
    elif roles and all(own_url(settings, role) for role in roles):
        yield ""
    elif running := running_servers(settings):
        yield running.database_url
    else:
        with embedded_postgres_server(settings.data_dir) as url:
            yield url


@contextlib.contextmanager
def servers(settings: Settings, roles: Collection[DbRole] = tuple(DbRole)) -> Iterator[Servers]:
    """The configured servers, a running `zs up`'s, or embedded ones started for the block."""
    with database_server(settings, roles) as database_url, contextlib.ExitStack() as stack:
        running = running_servers(settings)
        broker_url = (
            settings.broker_url
            or (running and running.broker_url)
            or stack.enter_context(embedded_redis_server(settings.data_dir, settings.source_names))
        )
        yield Servers(database_url, broker_url)


class MissingLogin(Exception):
    """A service has neither a URL of its own nor an owner's URL to derive a login from."""


async def prepare_database(owner_url: str) -> list[Migration]:
    """Apply the migrations and create the missing projection tables, owned by zs_projector
    (the owner is a member of it since migration 0013); the migrations applied now."""
    applied = await migrate(owner_url)
    pool = await create_pool(owner_url, role=DbRole.PROJECTOR.group, max_size=1)
    try:
        await ProjectionRunner(pool, EventStore(pool), PROJECTIONS).ensure_tables()
    finally:
        await pool.close()
    return applied


async def login_urls(
    settings: Settings, owner_url: str, roles: Collection[DbRole]
) -> dict[DbRole, str]:
    """Each role's URL: its own setting, else a login derived from `owner_url`."""
    urls = {role: url for role in roles if (url := own_url(settings, role))}
    missing = [role for role in roles if role not in urls]
    if missing and not owner_url:
        names = ", ".join(role.setting for role in missing)
        raise MissingLogin(f"set {names} (or ZS_DATABASE_URL, to derive the logins from it)")
    if missing:
        urls |= await derived_logins(owner_url, settings.data_dir, missing)
        log.info(
            "services connect with logins derived from the owner's URL",
            logins=[role.login for role in missing], passwords=str(settings.data_dir / "database"),
        )  # fmt: skip
    return urls


class Stores(dict[DbRole, EventStore]):
    """A store per role, and the URL each role's login connects with."""

    def __init__(self, urls: dict[DbRole, str]) -> None:
        super().__init__()
        self.urls = urls

    def runner(self, settings: Settings) -> ProjectionRunner:
        """The projector's runner of every projection, its rebuilds folded by
        `settings.rebuild_workers` worker processes connecting as the projector's login."""
        store = self[DbRole.PROJECTOR]
        workers = Workers(
            self.urls[DbRole.PROJECTOR], DbRole.PROJECTOR.group,
            worker_count(settings.rebuild_workers),
        )  # fmt: skip
        return ProjectionRunner(store.pool, store, PROJECTIONS, workers)


@contextlib.asynccontextmanager
async def open_stores(
    owner_url: str, settings: Settings, roles: Collection[DbRole]
) -> AsyncIterator[Stores]:
    """With the owner's URL (may be empty), prepare the database first, else refuse one not
    migrated; then yield a store per role, each connected as that role's login and switched to
    its group."""
    if owner_url:
        await prepare_database(owner_url)
    stores = Stores(await login_urls(settings, owner_url, roles))
    try:
        for role in roles:
            pool = await create_pool(  # the API's reads leave their sessions as they were
                stores.urls[role], role=role.group, reset_sessions=role is not DbRole.API
            )
            stores[role] = EventStore(pool)
        if not owner_url and stores:  # it cannot migrate: the schema must be current
            await check_applied(next(iter(stores.values())).pool)
        if DbRole.PROJECTOR in stores:
            await stores.runner(settings).ensure_tables()
        yield stores
    finally:
        for store in stores.values():
            await store.pool.close()


@contextlib.asynccontextmanager
async def open_store(
    owner_url: str, settings: Settings, role: DbRole = DbRole.API
) -> AsyncIterator[EventStore]:
    """One store connected as `role`'s login (the API's, read only, by default)."""
    async with open_stores(owner_url, settings, [role]) as stores:
        yield stores[role]


@contextlib.asynccontextmanager
async def open_runner(owner_url: str, settings: Settings) -> AsyncIterator[ProjectionRunner]:
    """The projector's runner of every projection (`Stores.runner`)."""
    async with open_stores(owner_url, settings, [DbRole.PROJECTOR]) as stores:
        yield stores.runner(settings)


@dataclass(frozen=True)
class Running:
    """What the running parts share: for the HTTP API that runs beside them."""

    store: EventStore
    """The API's store (read only) when the API runs, else the first part's."""
    transport: Transport
    ingestor: Ingestor | None
    """The ingest, when the ingest or the API (its `POST /ingest`) runs."""
    runner: ProjectionRunner | None
    """The projector, when it runs."""


@contextlib.asynccontextmanager
async def services(
    settings: Settings, urls: Servers, parts: Collection[Part], *, api: bool = False
) -> AsyncIterator[Running]:
    """Start `parts` against the servers (with `api`, also what the HTTP API needs: its read
    only store and the ingest for `POST /ingest`); stop them when the block ends. Each part
    connects as its own database login."""
    roles = [part.role for part in Part if part in parts]
    roles += [DbRole.API] + ([] if Part.INGEST in parts else [DbRole.INGEST]) if api else []
    async with open_stores(urls.database_url, settings, roles) as stores:
        transport = create_transport(urls.broker_url)

        async def reject(payloads: list[dict[str, Any]]) -> None:
            await publish_rejections(transport, payloads)

        ingest_store = stores.get(DbRole.INGEST)
        ingestor = Ingestor(ingest_store, reject) if ingest_store else None
        runner = stores.runner(settings) if DbRole.PROJECTOR in stores else None
        relay_store = stores.get(DbRole.RELAY)
        async with running_parts(settings, parts, transport, ingestor, runner, relay_store):
            store = stores.get(DbRole.API) or stores[roles[0]]
            yield Running(store, transport, ingestor, runner)


async def run_until_stopped(
    settings: Settings, urls: Servers, parts: Collection[Part], ready_fd: int | None = None
) -> None:
    """Run `parts` until SIGINT or SIGTERM; once they run, write a byte to `ready_fd` (if
    given: `zs up` waits for it) and close it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with services(settings, urls, parts):
        if ready_fd is not None:
            with contextlib.suppress(OSError):  # the parent may be gone
                os.write(ready_fd, b".")
            os.close(ready_fd)
        await stop.wait()
    log.info("services stopped", parts=sorted(parts))


def fresh_metrics_dir(settings: Settings) -> Path:
    """`<data dir>/metrics`, emptied: the service processes' Prometheus files of this run."""
    path = settings.data_dir / CHILD_METRICS_DIR
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def api_workers(settings: Settings) -> int:
    """How many HTTP API worker processes serve the port: the setting, else one per core."""
    return settings.api_workers or os.cpu_count() or 1


@contextlib.asynccontextmanager
async def api_and_processes(
    settings: Settings, urls: Servers, parts: Collection[Part], listening: socket.socket
) -> AsyncIterator[Running]:
    """`parts` each as a child process of its own, and the HTTP API's workers serving
    `listening`, while the block runs; what this process keeps of the services (its store, for
    loading the demo and telling when it is in). `/metrics` shows every child's metrics."""
    metrics_dir = fresh_metrics_dir(settings)
    roles = [*(p.role for p in parts), DbRole.API, DbRole.INGEST]
    async with (
        services(settings, urls, set(), api=True) as running,  # migrates: before the logins
        children(
            settings, await login_urls(settings, urls.database_url, roles), urls.broker_url,
            parts, metrics_dir, api=(listening, api_workers(settings)),
        ),
    ):  # fmt: skip
        yield running


@contextlib.asynccontextmanager
async def api_worker(settings: Settings) -> AsyncIterator[FastAPI]:
    """The HTTP API's app of one worker process (`zs api-worker`, started by `zs up` or
    `zs api`): its read only store, the ingest for `POST /ingest`, the broker; its Prometheus
    metrics in the folder its parent emptied, which `/metrics` reads for every process."""
    urls = Servers("", settings.broker_url or "")
    async with services(settings, urls, set(), api=True) as running:
        assert running.ingestor is not None  # the API's POST /ingest
        yield create_app(
            running.store, running.ingestor, settings, TokenVerifier(settings),
            transport=running.transport, broker_url=redact(urls.broker_url),
            shared_metrics=settings.data_dir / CHILD_METRICS_DIR,
        )  # fmt: skip
