"""`/health` through a Redis of the test's own that goes away and comes back: replaying its
append-only file after a restart (Redis answers `LOADING` to every command until the whole file
is in memory) and stopped for longer than any client timeout. The broker reason must say what
Redis is doing, and must go the moment Redis answers again: the first `/health` after Redis
answers `PING` reports the broker reachable."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis

from services.bootstrap import Servers, services
from services.pipeline.run import Part
from tests.integration.helpers import api_app, api_client, eventually, settings_for
from tests.integration.outage import BrokerServer, redis_server

FILLER_KEYS = 25_000
"""Keys of the append-only file Redis replays after its restart: one command each."""
KEY_LOAD_DELAY_US = 50
"""Redis's own debugging knob (`key-load-delay`, microseconds per key loaded): replaying the
file takes seconds however fast the machine is. Redis answers clients between every 1,000
commands it replays, as it does when loading a large file."""
LONG_STOP_S = 12.0
"""Longer than every timeout and backoff of the broker client."""


async def ping(server: BrokerServer) -> bytes:
    """Redis's answer to `PING` on a new connection, as it sends it (`+PONG`, `-LOADING ...`),
    or b"" when nothing listens."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    except OSError:
        return b""
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await reader.readline()).strip()
    except OSError:
        return b""
    finally:
        writer.close()


async def loading(server: BrokerServer) -> bool:
    return (await ping(server)).startswith(b"-LOADING")


async def answering(server: BrokerServer) -> bool:
    return await ping(server) == b"+PONG"


async def rewritten(client: "redis.Redis[bytes]") -> bool:
    """Whether no rewrite of the append-only file is under way or scheduled."""
    persistence = await client.info("persistence")
    return not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"])


def broker_reasons(health: httpx.Response) -> list[str]:
    """The reasons of a `/health` answer that are about the broker."""
    assert health.status_code == 200
    return [reason for reason in health.json().get("reasons", []) if "broker" in reason]


@pytest.fixture
async def client_and_server(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, BrokerServer]]:
    """Every service running on a Redis of the test's own, and an HTTP client of the API."""
    with redis_server(tmp_path, appendfsync="everysec") as server:
        urls = Servers(database_url, server.url)
        async with services(settings_for(urls), urls, set(Part), api=True) as running:
            app = api_app(running.store, running.ingestor, transport=running.transport)
            async with api_client(app) as client:
                assert broker_reasons(await client.get("/health")) == []
                yield client, server


async def first_health_once_answering(
    client: httpx.AsyncClient, server: BrokerServer
) -> httpx.Response:
    """The first `/health` after Redis answers `PING` again."""
    await eventually(lambda: answering(server), "Redis to answer PING")
    return await client.get("/health")


@pytest.mark.slow
async def test_health_says_the_broker_is_loading_and_clears_once_it_answers(
    client_and_server: tuple[httpx.AsyncClient, BrokerServer],
) -> None:
    client, server = client_and_server
    filler = redis.from_url(server.url)
    await filler.execute_command("DEBUG", "POPULATE", FILLER_KEYS, "zs-test-filler")
    await filler.config_set("aof-use-rdb-preamble", "no")  # a file of commands to replay
    await filler.bgrewriteaof()
    await eventually(lambda: rewritten(filler), "the append-only file rewritten")
    await filler.aclose()
    server.stop()
    server.command += ["--key-load-delay", str(KEY_LOAD_DELAY_US)]
    await asyncio.to_thread(server.start)  # returns once the port is open, while it loads

    await eventually(lambda: loading(server), "Redis to answer LOADING")
    during = broker_reasons(await client.get("/health"))
    still_loading = await loading(server)  # so `during` was answered while Redis loaded
    answered = await first_health_once_answering(client, server)

    assert still_loading, "Redis finished loading before the test could ask"
    assert during == ["broker loading its data"]
    assert broker_reasons(answered) == []
    assert answered.json()["status"] == "ok"


@pytest.mark.slow
async def test_health_reports_the_broker_the_moment_it_answers_after_a_long_stop(
    client_and_server: tuple[httpx.AsyncClient, BrokerServer],
) -> None:
    client, server = client_and_server
    server.stop()
    while_stopped = set()
    deadline = asyncio.get_running_loop().time() + LONG_STOP_S
    while asyncio.get_running_loop().time() < deadline:  # polled as a monitor would
        while_stopped.add(tuple(broker_reasons(await client.get("/health"))))
        await asyncio.sleep(0.5)
    await asyncio.to_thread(server.start)
    answered = await first_health_once_answering(client, server)

    assert while_stopped == {("broker unreachable",)}
    assert broker_reasons(answered) == []
    assert answered.json()["status"] == "ok"
