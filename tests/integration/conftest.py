"""Broker fixtures: each test that takes `broker_url` runs once on Redis and once on NATS
JetStream, each a real server (the one ZS_BROKER_URL names for its kind, else an embedded one
started once per session); `pipeline` runs ingest, relay and projector on it. `runner` is the
figures projection's runner of the projector tests (a module may define its own)."""

import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from events.store import EventStore, create_pool
from infra.embedded import embedded_nats_server, embedded_redis_server
from infra.roles import DbRole
from infra.settings import Settings
from projections.engine.runner import ProjectionRunner
from projections.figures.projection import FIGURES
from services.bootstrap import Running, Servers, services
from services.pipeline.run import Part
from tests.integration.helpers import settings_for, wipe_broker
from tests.integration.nats_cluster import NatsCluster, embedded_nats_cluster
from tests.pools import close_pool

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


@pytest.fixture
async def urls(database_url: str, broker_url: str) -> Servers:
    """This test's database on a broker wiped clean."""
    await wipe_broker(broker_url)
    return Servers(database_url, broker_url)


@pytest.fixture
async def pipeline(urls: Servers) -> AsyncIterator[Running]:
    """Ingest, relay, projector and the API's stores in this process, each as its login."""
    async with services(settings_for(urls), urls, set(Part), api=True) as running:
        yield running


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A fresh three-node NATS JetStream cluster of this test's own (its nodes may be killed)."""
    with embedded_nats_cluster(tmp_path) as cluster:
        yield cluster


@pytest.fixture
async def runner(service_urls: dict[DbRole, str]) -> AsyncIterator[ProjectionRunner]:
    """A runner for the figures projection, connected as the projector's login."""
    pool = await create_pool(service_urls[DbRole.PROJECTOR], role=DbRole.PROJECTOR.group)
    yield ProjectionRunner(pool, EventStore(pool), [FIGURES])
    await close_pool(pool)
