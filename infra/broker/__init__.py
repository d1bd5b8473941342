"""The broker layer: one transport per broker, chosen by URL, and the supervisor that runs it.

`create_transport("redis://...")` gives a Redis Streams transport, `nats://...` a JetStream
one; both satisfy `Transport` (see `infra.broker.transport` for what they promise). Subscribe
first, then run the subscribers with `running(transport)`. Adding a broker means adding a
module with a transport class and a line in `create_transport`.
"""

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from faststream.nats import NatsBroker
from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI
from nats import errors as nats_errors
from redis import exceptions as redis_errors

from infra.broker import nats, redis
from infra.broker.nats import NatsTransport, default_replicas
from infra.broker.redis import RedisTransport
from infra.broker.supervisor import repair, running
from infra.broker.transport import (
    BROKER_LOGGER,
    REDELIVER_AFTER_S,
    BatchHandler,
    ChannelDoc,
    Group,
    RawMessage,
    Transport,
    UnsupportedBroker,
)
from infra.settings import get_settings

__all__ = [
    "BROKER_LOADING", "BROKER_OUTAGES", "REDELIVER_AFTER_S", "BatchHandler", "ChannelDoc",
    "Group", "RawMessage", "Transport", "UnsupportedBroker", "asyncapi_document",
    "create_transport", "repair", "running",
]  # fmt: skip

BROKER_OUTAGES: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError, redis_errors.TimeoutError,
    nats_errors.ConnectionClosedError, nats_errors.NoServersError, nats_errors.TimeoutError,
    nats_errors.StaleConnectionError, nats_errors.NoRespondersError,
)  # fmt: skip
"""What the broker clients raise when the broker cannot be reached (not a message's fault)."""
BROKER_LOADING: tuple[type[Exception], ...] = (redis_errors.BusyLoadingError,)
"""What a broker client raises while the broker is up but still loading its data (Redis answers
`LOADING` to every command until its append-only file or snapshot is in memory): one of the
`BROKER_OUTAGES`, told apart so that `/health` can say so."""
REDIS_SCHEMES = ("redis", "rediss", "unix")
NATS_SCHEMES = ("nats", "tls")


def broker_scheme(url: str) -> str:
    """The one scheme of the servers `url` names (comma-separated)."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    schemes = {urlsplit(server).scheme for server in servers}
    if len(schemes) != 1:
        raise UnsupportedBroker(f"broker URL {url!r} mixes schemes or names no server")
    return schemes.pop()


def asyncapi_document(
    url: str, channels: list[ChannelDoc], *, title: str, version: str, description: str
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `channels` on the broker `url` names."""
    module = nats if broker_scheme(url) in NATS_SCHEMES else redis
    broker = module.describing_broker(url, channels)
    about = AsyncAPI(broker, title=title, version=version, description=description)
    specification = about.to_specification()
    document: dict[str, Any] = json.loads(specification.to_json())
    return document


def create_transport(
    url: str,
    *,
    logger: logging.Logger | None = None,
    replicas: int | None = None,
    max_entries: int | None = None,
) -> Transport:
    """The transport for `url` (`redis://...` or `nats://...`), not yet connected.

    A NATS URL may list several servers of one cluster, comma-separated; the client connects to
    any of them and reconnects to another when it fails. Streams are declared with `replicas`
    (else `ZS_NATS_REPLICAS`, else 3 for several servers and 1 for one). A channel no consumer
    group reads keeps about `max_entries` messages (else `ZS_BROKER_MAX_ENTRIES`).
    """
    servers = [part.strip() for part in url.split(",") if part.strip()]
    scheme = broker_scheme(url)
    options: dict[str, Any] = {
        "logger": logger or logging.getLogger(BROKER_LOGGER),
        "log_level": logging.DEBUG,  # one line per batch received: the services log outcomes
    }
    if max_entries is None:
        max_entries = get_settings().broker_max_entries
    if scheme in REDIS_SCHEMES:
        if len(servers) > 1:
            raise UnsupportedBroker("a Redis broker URL names one server, not a list")
        return RedisTransport(RedisBroker(url, **options), max_entries=max_entries)
    if scheme in NATS_SCHEMES:
        if replicas is None:
            replicas = get_settings().nats_replicas or default_replicas(servers)
        broker = NatsBroker(servers, **options)
        return NatsTransport(broker, replicas=replicas, max_entries=max_entries)
    raise UnsupportedBroker(
        f"broker URL scheme {scheme!r} is not supported: use redis:// or nats:// "
        "(FastStream also speaks Kafka and RabbitMQ, but this project has no transport for them)"
    )
