"""Prometheus metrics of the API process: HTTP latency by route (an ASGI middleware), and the
gauges `/metrics` refreshes from a status probe on every scrape (head, checkpoints, lags,
database and broker up). The pipeline's counters live in `services/pipeline/metrics.py`;
under `zs up` the ingest counts in a process of its own, whose metrics `exposed_metrics` adds."""

import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.status import Status

HTTP_SECONDS = Histogram(
    "zs_http_request_seconds", "HTTP request latency by route", ["method", "route", "status"]
)
HEAD = Gauge("zs_store_head_position", "Position of the last recorded event")
CHECKPOINT = Gauge("zs_projection_checkpoint", "Position a projection has applied", ["name"])
LAG_EVENTS = Gauge(
    "zs_projection_lag_events",
    "Events a projection (or the relay, name=relay) is behind the store's head",
    ["name"],
)
LAG_SECONDS = Gauge(
    "zs_projection_lag_seconds",
    "recorded_at(head) - recorded_at(checkpoint) of a projection (or the relay)",
    ["name"],
)
RELAY_LAG = Gauge("zs_relay_lag_events", "Events recorded but not yet published to zs.events")
DATABASE_UP = Gauge("zs_database_up", "1 when the database answered the last probe")
BROKER_UP = Gauge("zs_broker_up", "1 when the broker answered the last probe (-1: no broker)")
READY = Gauge("zs_ready", "1 when the last probe found no reason to be degraded")


class WithChildren:
    """This process's metrics and those its service processes keep in a folder (in
    prometheus_client's multiprocess mode), samples of the same name and labels summed: the
    ingest counts in its own process and in the API's (`POST /ingest`)."""

    def __init__(self, folder: Path) -> None:
        self.children = MultiProcessCollector(None, str(folder))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterator[Metric]:
        theirs = {f.name: f for f in self.children.collect()}  # type: ignore[no-untyped-call]
        for family in REGISTRY.collect():
            if (other := theirs.pop(family.name, None)) is not None:
                summed: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
                for sample in [*family.samples, *other.samples]:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    summed[key] = summed.get(key, 0.0) + sample.value
                family.samples = []
                for (name, labels), value in summed.items():
                    family.add_sample(name, dict(labels), value)
            yield family
        yield from theirs.values()


def exposed_metrics(child_metrics: Path | None) -> CollectorRegistry:
    """What `/metrics` shows: this process's metrics, with the service processes' kept in
    `child_metrics` (if given)."""
    if child_metrics is None:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WithChildren(child_metrics))
    return registry


def observe(status: Status) -> None:
    """Set the gauges from a probe."""
    DATABASE_UP.set(1 if status.database else 0)
    BROKER_UP.set(-1 if status.broker is None else int(status.broker))
    READY.set(0 if status.reasons else 1)
    if status.position is not None:
        HEAD.set(status.position)
    for name, position in status.projections.items():
        CHECKPOINT.labels(name).set(position)
    for name, lag in status.lag_events.items():
        LAG_EVENTS.labels(name).set(lag)
        LAG_SECONDS.labels(name).set(status.lag_seconds.get(name, 0.0))
    if "relay" in status.lag_events:
        RELAY_LAG.set(status.lag_events["relay"])


class TimingMiddleware:
    """Times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, code = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_SECONDS.labels(scope["method"], template, str(code)).observe(
                time.perf_counter() - started
            )
