"""The embedded servers trust no one local: PostgreSQL asks every login for its password
(scram-sha-256), also on a data folder an older version left trusting everyone, and the files of
PostgreSQL and Redis (the append-only file holds every unsettled message) are their owner's only."""

import stat
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from infra.embedded import (
    OWNER_PASSWORD_FILE,
    embedded_postgres_server,
    embedded_redis_server,
    with_user,
)

TRUST_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
"""What the embedded PostgreSQL of older versions ran with."""


async def refused(url: str) -> bool:
    """Whether PostgreSQL refuses a connection to `url` for its password."""
    try:
        connection = await asyncpg.connect(url)
    except asyncpg.InvalidPasswordError:
        return True
    await connection.close()
    return False


@pytest.mark.slow
async def test_the_embedded_postgres_refuses_a_wrong_or_missing_password(tmp_path: Path) -> None:
    with embedded_postgres_server(tmp_path, delete=True) as url:
        connection = await asyncpg.connect(url)
        await connection.execute("CREATE ROLE some_service LOGIN PASSWORD 'its-password'")
        await connection.close()

        assert await refused(with_user(url, "postgres", "wrong"))
        assert await refused(with_user(url, "some_service", "wrong"))
        assert not await refused(with_user(url, "some_service", "its-password"))
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InterfaceError)):
            await asyncpg.connect(url.replace(url.split("@")[0], "postgresql://postgres"))


@pytest.mark.slow
async def test_a_data_folder_that_trusted_everyone_requires_passwords_after_a_start(
    tmp_path: Path,
) -> None:
    with embedded_postgres_server(tmp_path):
        pass
    (tmp_path / "postgres" / "pg_hba.conf").write_text(TRUST_HBA)  # as an older version left it
    (tmp_path / OWNER_PASSWORD_FILE).unlink()

    with embedded_postgres_server(tmp_path, delete=True) as url:
        connection = await asyncpg.connect(url)
        assert await connection.fetchval("SELECT 1") == 1
        await connection.close()
        assert await refused(with_user(url, "postgres", "wrong"))


@pytest.mark.slow
async def test_postgres_and_redis_files_are_their_owners_only(tmp_path: Path) -> None:
    with embedded_redis_server(tmp_path) as url:
        client = aioredis.from_url(url)
        await client.xadd("zs.ingest", {"data": b"unsettled"})
        await client.aclose()
    with embedded_postgres_server(tmp_path, delete=False):
        paths = [tmp_path / OWNER_PASSWORD_FILE]
        for folder in ("postgres", "redis"):
            paths += [tmp_path / folder, *(tmp_path / folder).rglob("*")]
        modes = {
            str(path.relative_to(tmp_path)): stat.S_IMODE(path.lstat().st_mode)
            for path in paths
            if path.exists() and not stat.S_ISSOCK(path.lstat().st_mode)
        }

    assert any(name.startswith("redis/appendonly") for name in modes)
    assert {name: oct(mode) for name, mode in modes.items() if mode & 0o077} == {}
