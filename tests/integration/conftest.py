"""Broker fixtures: each test that takes `broker_url` runs once on Redis and once on NATS
JetStream, each a real server (the one ZS_BROKER_URL names for its kind, else an embedded one
started once per session)."""

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infra.embedded import embedded_nats_server, embedded_redis_server
from infra.settings import Settings

EMBEDDED: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "redis": embedded_redis_server,
    "nats": embedded_nats_server,
}


@pytest.fixture(scope="session", params=["redis", "nats"], ids=["redis", "nats"])
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a real broker of the parametrised kind."""
    kind: str = request.param
    configured = Settings().broker_url
    if configured and urlsplit(configured).scheme == kind:
        yield configured
        return
    with (
        tempfile.TemporaryDirectory(prefix="zs-broker-") as data_dir,
        EMBEDDED[kind](Path(data_dir)) as url,
    ):
        yield url
