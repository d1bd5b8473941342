"""The services' PostgreSQL roles: one group per service (created by migration 0013), and the
login each service connects with.

A login is a member of exactly one group, NOINHERIT: the session switches to the group (the
pool's `role` setting) and has its privileges only there; `SET ROLE NONE` leaves the login with
none, `RESET ROLE` goes back to the group, `SET ROLE` to another group is refused. Where a
service's URL is not configured, the login is derived from the owner's URL (`derived_logins`):
created or updated here with a random password kept under the data directory, readable by its
owner only.
"""

import contextlib
import os
import secrets
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

LOGINS_LOCK_KEY = 0x5A53_4C47  # "ZSLG": one process creates or updates the logins at a time
PASSWORD_DIR = "database"


class DbRole(StrEnum):
    """A service as the database knows it."""

    INGEST = "ingest"
    RELAY = "relay"
    PROJECTOR = "projector"
    API = "api"

    @property
    def group(self) -> str:
        """The NOLOGIN group role holding the service's privileges."""
        return f"zs_{self.value}"

    @property
    def login(self) -> str:
        """The name of the login that `derived_logins` creates for the service (`_local`: never
        the name an operator gives a login, whose password this would change)."""
        return f"zs_{self.value}_local"

    @property
    def setting(self) -> str:
        """The environment variable naming the service's own database URL."""
        return f"ZS_{self.value.upper()}_DATABASE_URL"


def with_login(url: str, user: str, password: str) -> str:
    """`url` with its user and password replaced (host, port, database and options kept)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def stored_password(directory: Path, role: DbRole) -> tuple[str, bool]:
    """The role's password kept in `directory` (owner-only), created when missing; whether it
    was created now (several processes may race: exactly one file wins)."""
    path = directory / f"{role.login}.password"
    if path.exists():
        return path.read_text().strip(), False
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_urlsafe(24)
    draft = directory / f".{role.login}.{os.getpid()}.{secrets.token_hex(4)}"
    draft.touch(mode=0o600)
    draft.write_text(password + "\n")
    try:
        os.link(draft, path)  # atomic: fails if another process was first
    except FileExistsError:
        return path.read_text().strip(), False
    finally:
        draft.unlink()
    return password, True


def literal(text: str) -> str:
    """`text` as an SQL string literal (a password cannot be a bind parameter of CREATE ROLE)."""
    return "'" + text.replace("'", "''") + "'"


async def ensure_login(
    connection: asyncpg.Connection, role: DbRole, password: str, *, new_password: bool
) -> None:
    """Create the role's login in its group, or give an existing one `password` when it is
    new (an unchanged password is left alone: concurrent ALTER ROLEs of one role fail)."""
    name = '"' + role.login.replace('"', '""') + '"'
    options = f"LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {literal(password)}"
    exists = await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role.login)
    if not exists:
        with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
            await connection.execute(f"CREATE ROLE {name} {options} IN ROLE {role.group}")
            return
    if new_password:
        await connection.execute(f"ALTER ROLE {name} {options}")
    await connection.execute(f"GRANT {role.group} TO {name}")


async def password_accepted(url: str) -> bool:
    """Whether the server lets `url`'s login in with its password (False also when the login
    does not exist yet)."""
    try:
        connection = await asyncpg.connect(url)
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return False
    await connection.close()
    return True


async def derived_logins(
    owner_url: str, data_dir: Path, roles: Collection[DbRole]
) -> dict[DbRole, str]:
    """Create (or bring up to date) the login of each of `roles` under the owner's URL, with a
    password kept under `data_dir`; each login's URL. The groups must exist (`zs migrate`)."""
    directory = data_dir / PASSWORD_DIR
    connection = await asyncpg.connect(owner_url)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", LOGINS_LOCK_KEY)
        urls = {}
        for role in roles:
            password, new = stored_password(directory, role)
            url = with_login(owner_url, role.login, password)
            new = new or not await password_accepted(url)  # another data folder changed it
            await ensure_login(connection, role, password, new_password=new)
            urls[role] = url
        return urls
    finally:
        await connection.close()  # releases the lock
