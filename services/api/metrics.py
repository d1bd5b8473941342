"""Prometheus metrics of the API process: HTTP latency by route (an ASGI middleware), and the
gauges `/metrics` refreshes from a status probe on every scrape (head, checkpoints, lags,
database and broker up). The pipeline's counters live in `services/pipeline/metrics.py`.
Under `zs up` and `zs api` every process (the services and the API's workers) keeps its
metrics in one folder (prometheus_client's multiprocess mode), and whichever worker answers
`/metrics` shows them all: counters and histograms summed, the probe's gauges as last set."""

import time
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.status import Status

HTTP_SECONDS = Histogram(
    "zs_http_request_seconds", "HTTP request latency by route", ["method", "route", "status"]
)
HEAD = Gauge(
    "zs_store_head_position", "Position of the last recorded event",
    multiprocess_mode="mostrecent",
)  # fmt: skip
CHECKPOINT = Gauge(
    "zs_projection_checkpoint", "Position a projection has applied", ["name"],
    multiprocess_mode="mostrecent",
)  # fmt: skip
LAG_EVENTS = Gauge(
    "zs_projection_lag_events",
    "Events a projection (or the relay, name=relay) is behind the store's head",
    ["name"], multiprocess_mode="mostrecent",
)  # fmt: skip
LAG_SECONDS = Gauge(
    "zs_projection_lag_seconds",
    "recorded_at(head) - recorded_at(checkpoint) of a projection (or the relay)",
    ["name"], multiprocess_mode="mostrecent",
)  # fmt: skip
RELAY_LAG = Gauge(
    "zs_relay_lag_events", "Events recorded but not yet published to zs.events",
    multiprocess_mode="mostrecent",
)  # fmt: skip
DATABASE_UP = Gauge(
    "zs_database_up", "1 when the database answered the last probe",
    multiprocess_mode="mostrecent",
)  # fmt: skip
BROKER_UP = Gauge(
    "zs_broker_up", "1 when the broker answered the last probe (-1: no broker)",
    multiprocess_mode="mostrecent",
)  # fmt: skip
READY = Gauge(
    "zs_ready", "1 when the last probe found no reason to be degraded",
    multiprocess_mode="mostrecent",
)  # fmt: skip


def exposed_metrics(shared: Path | None) -> CollectorRegistry:
    """What `/metrics` shows: every process's metrics kept in the folder `shared` (this one's
    among them), else this process's own."""
    if shared is None:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, str(shared))  # type: ignore[no-untyped-call]
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
