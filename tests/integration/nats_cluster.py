"""A three-node NATS JetStream cluster on loopback for the fault tests: nodes that can be killed
and started again on their own data, and probes of the meta and stream leaders.

Test-only: the product runs against a cluster the operator provides (docs/operations.md,
section 5); only `tests/integration/test_nats_cluster.py` starts this one.
"""

import contextlib
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.embedded import (
    START_ATTEMPTS,
    free_port,
    nats_server_executable,
    stop_process,
    wait_for_port,
)

CLUSTER_READY_TIMEOUT_S = 60.0
"""How long a NATS cluster (or a restarted node) may take to agree on a JetStream meta leader."""


@dataclass
class NatsNode:
    """One server of an embedded NATS cluster: its ports, its data, its process (if running)."""

    name: str
    port: int
    cluster_port: int
    monitor_port: int
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether its process is alive."""
        return self.process is not None and self.process.poll() is None


@dataclass
class NatsCluster:
    """Servers n1..nN forming one JetStream cluster on loopback; each node can be killed and
    started again on the same ports and data (a node's disk survives its crash)."""

    nodes: list[NatsNode]
    cluster_name: str = "zs"
    routes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated: what `ZS_BROKER_URL` takes."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        """The node called `name` (n1, n2, ...)."""
        return next(node for node in self.nodes if node.name == name)

    def command(self, node: NatsNode) -> list[str]:
        """The command line of `node`."""
        others = [r for r, n in zip(self.routes, self.nodes, strict=True) if n is not node]
        return [
            nats_server_executable(),
            "--jetstream",
            "--store_dir", str(node.store_dir),
            "--server_name", node.name,
            "--addr", "127.0.0.1",
            "--port", str(node.port),
            "--http_port", str(node.monitor_port),
            "--cluster_name", self.cluster_name,
            "--cluster", f"nats://127.0.0.1:{node.cluster_port}",
            "--routes", ",".join(others),
            "--log", str(node.store_dir / "nats.log"),
        ]  # fmt: skip

    def start(self, name: str, *, wait: bool = True) -> None:
        """Start node `name` (again, on its own data); with `wait`, until it knows the meta
        leader of the cluster."""
        node = self.node(name)
        if node.running:
            return
        node.store_dir.mkdir(parents=True, exist_ok=True)
        node.process = subprocess.Popen(
            self.command(node), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(node.port, node.process)
        if wait:
            self.wait_for_meta_leader([node])

    def kill(self, name: str) -> None:
        """Kill node `name` (SIGKILL, as a crash would); its data stays."""
        node = self.node(name)
        if node.process is not None:
            node.process.kill()
            node.process.wait()
            node.process = None

    def stop(self, name: str) -> None:
        """Stop node `name` gracefully (SIGTERM, then SIGKILL after 10 s)."""
        node = self.node(name)
        if node.process is not None:
            stop_process(node.process)
            node.process = None

    def stop_all(self) -> None:
        """Stop every running node."""
        for node in self.nodes:
            self.stop(node.name)

    def jsz(self, node: NatsNode, query: str = "") -> dict[str, Any]:
        """The node's JetStream monitoring report (`/jsz`)."""
        address = f"http://127.0.0.1:{node.monitor_port}/jsz{query}"
        with urllib.request.urlopen(address, timeout=2) as response:
            report: dict[str, Any] = json.load(response)
        return report

    def meta_leader(self) -> str | None:
        """The JetStream meta leader as a running node sees it (None during an election)."""
        for node in self.nodes:
            if node.running:
                with contextlib.suppress(OSError, ValueError):
                    leader = self.jsz(node).get("meta_cluster", {}).get("leader")
                    if leader and self.node(str(leader)).running:
                        return str(leader)
        return None

    def stream_leader(self, stream: str) -> str | None:
        """The running node leading `stream` (None when unknown, e.g. during an election, or
        when the node still named as its leader was killed and that is not noticed yet)."""
        for node in self.nodes:
            if not node.running:
                continue
            with contextlib.suppress(OSError, ValueError):
                report = self.jsz(node, "?accounts=true&streams=true")
                for account in report.get("account_details") or []:
                    for detail in account.get("stream_detail") or []:
                        if detail.get("name") == stream:
                            leader = (detail.get("cluster") or {}).get("leader")
                            if leader and self.node(str(leader)).running:  # not a dead one's
                                return str(leader)
        return None

    def wait_for_meta_leader(self, nodes: list[NatsNode] | None = None) -> str:
        """Block until every one of `nodes` (default: every running node) reports the same
        JetStream meta leader; return its name."""
        deadline = time.monotonic() + CLUSTER_READY_TIMEOUT_S
        while True:
            watched = nodes or [node for node in self.nodes if node.running]
            leaders = set()
            for node in watched:
                try:
                    leaders.add(self.jsz(node).get("meta_cluster", {}).get("leader"))
                except (OSError, ValueError):
                    leaders.add(None)
            if len(leaders) == 1 and None not in leaders and "" not in leaders:
                return str(leaders.pop())
            if time.monotonic() > deadline:
                raise RuntimeError(f"NATS cluster has no JetStream meta leader: {leaders}")
            time.sleep(0.1)


@contextlib.contextmanager
def embedded_nats_cluster(data_dir: Path, nodes: int = 3) -> Iterator[NatsCluster]:
    """Run `nodes` JetStream servers (n1..nN, data under `data_dir/nats-cluster/<name>`) as one
    cluster on free loopback ports, ready once they agree on a meta leader; stop all at the end."""
    root = data_dir.resolve() / "nats-cluster"
    for attempt in range(1, START_ATTEMPTS + 1):
        cluster = NatsCluster(
            [
                NatsNode(f"n{i}", free_port(), free_port(), free_port(), root / f"n{i}")
                for i in range(1, nodes + 1)
            ]
        )
        cluster.routes = [f"nats://127.0.0.1:{node.cluster_port}" for node in cluster.nodes]
        try:
            for node in cluster.nodes:
                cluster.start(node.name, wait=False)
            cluster.wait_for_meta_leader()
        except RuntimeError:  # a port was taken meanwhile: start over on other ones
            cluster.stop_all()
            if attempt == START_ATTEMPTS:
                raise
            continue
        try:
            yield cluster
        finally:
            cluster.stop_all()
        return
