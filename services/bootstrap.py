"""Wiring: the servers a command runs against, and the stores on top of them.

With no URLs configured, `zs up` starts the embedded servers and notes their URLs in
`<data dir>/servers.json` while it runs; other commands (`zs publish`, `zs audit ...`) use
those, so they talk to the same Redis and PostgreSQL instead of starting their own.

Each service connects with its own login (`infra/roles.py`): the URL its setting names, else a
login derived from the owner's URL. Only the owner's URL migrates.
"""

import contextlib
import json
import os
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from events.store import EventStore, create_pool
from infra.embedded import embedded_postgres_server, embedded_redis_server
from infra.migrate import Migration, check_applied, migrate
from infra.roles import DbRole, derived_logins
from infra.settings import Settings
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS

SERVERS_FILE = "servers.json"
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


@contextlib.asynccontextmanager
async def open_stores(
    owner_url: str, settings: Settings, roles: Collection[DbRole]
) -> AsyncIterator[dict[DbRole, EventStore]]:
    """With the owner's URL (may be empty), prepare the database first, else refuse one not
    migrated; then yield a store per role, each connected as that role's login and switched to
    its group."""
    if owner_url:
        await prepare_database(owner_url)
    urls = await login_urls(settings, owner_url, roles)
    stores: dict[DbRole, EventStore] = {}
    try:
        for role in roles:
            stores[role] = EventStore(await create_pool(urls[role], role=role.group))
        if not owner_url and stores:  # it cannot migrate: the schema must be current
            await check_applied(next(iter(stores.values())).pool)
        if projector := stores.get(DbRole.PROJECTOR):
            await ProjectionRunner(projector.pool, projector, PROJECTIONS).ensure_tables()
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
