"""`zs up` on a fresh machine: embedded PostgreSQL and Redis, health answers, data survives."""

import os
import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from events.store import EventStore, create_pool
from infra.embedded import (
    OWNER_PASSWORD_FILE,
    SERVICES_USER,
    broker_passwords,
    free_port,
    with_user,
)
from tests.factories import figure_event
from tests.integration.processes import READY_TIMEOUT_S, ZS, start_up, stop, wait_until_ready


def with_owner_password(banner_url: str, data_dir: Path) -> str:
    """The owner's URL the banner shows (its password left out), with the password."""
    return with_user(banner_url, "postgres", (data_dir / OWNER_PASSWORD_FILE).read_text().strip())


@pytest.mark.slow
async def test_up_serves_health_on_embedded_servers_and_keeps_data(tmp_path: Path) -> None:
    port = free_port()
    process = start_up(tmp_path, port)
    try:
        announced = wait_until_ready(process)
        assert announced["API"] == f"http://127.0.0.1:{port}"
        assert announced["broker"].startswith("redis://zs-services@127.0.0.1:")
        bearer = {"Authorization": f"Bearer {announced['token']}"}
        async with httpx.AsyncClient(headers=bearer) as client:
            health = await client.get(f"{announced['API']}/health")
            anonymous = await client.get(
                f"{announced['API']}/health", headers={"Authorization": ""}
            )
        assert (health.status_code, anonymous.status_code) == (200, 401)
        assert health.json() == {"status": "ok", "position": 0, "projections": {}}
        owner_url = with_owner_password(announced["database"], tmp_path / ".zs")
        pool = await create_pool(owner_url, role="zs_ingest")
        await EventStore(pool).append([figure_event(), figure_event()])
        await pool.close()
        owner = await asyncpg.connect(owner_url)
        sessions = await owner.fetch(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND usename <> session_user"
        )
        await owner.close()
        assert sorted(row["usename"] for row in sessions) == [
            "zs_api_local", "zs_ingest_local", "zs_projector_local", "zs_relay_local",
        ]  # fmt: skip
        passwords = tmp_path / ".zs" / "database"
        assert {p.name: p.stat().st_mode & 0o777 for p in passwords.iterdir()} == {
            f"{name}.password": 0o600 for name in (row["usename"] for row in sessions)
        }
    finally:
        assert stop(process) == 0

    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(owner_url, timeout=2)

    process = start_up(tmp_path, port)
    try:
        announced = wait_until_ready(process)
        bearer = {"Authorization": f"Bearer {announced['token']}"}
        async with httpx.AsyncClient(headers=bearer) as client:
            health = await client.get(f"{announced['API']}/health")
        assert (health.json()["position"], health.headers["X-Position"]) == (2, "2")
    finally:
        assert stop(process) == 0


def services_url(announced: str, data_dir: Path) -> str:
    """The broker URL of the banner (password left out) with the services' password."""
    password = broker_passwords(data_dir)[SERVICES_USER]
    return with_user(announced.replace(f"{SERVICES_USER}@", ""), SERVICES_USER, password)


def every_reader_blocked(broker: redis.Redis) -> bool:
    """Whether every client reading a consumer group waits in its blocking read."""
    readers = sum(1 for client in broker.client_list() if client.get("cmd") == "xreadgroup")
    blocked = int(broker.info("clients")["blocked_clients"])
    return readers > 0 and blocked >= readers


@pytest.mark.slow
def test_ctrl_c_at_the_terminal_stops_cleanly_without_tracebacks(tmp_path: Path) -> None:
    """The terminal sends SIGINT to the whole foreground process group: the embedded servers
    must not die before the subscribers stop (they run in a session of their own)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    env |= {"ZS_HTTP_PORT": str(free_port()), "ZS_DATA_DIR": str(tmp_path / ".zs")}
    process = subprocess.Popen(
        [ZS, "up", "--no-demo"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        announced = wait_until_ready(process)
        assert "database" in announced
        broker = redis.Redis.from_url(services_url(announced["broker"], tmp_path / ".zs"))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not every_reader_blocked(broker):  # the subscribers are blocked in their reads
            assert time.monotonic() < deadline, "the subscribers never blocked in their reads"
            time.sleep(0.05)
        broker.close()
    finally:
        os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C does: the whole group
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "Message fetch error" not in stderr
