"""The transport is neutral: only `infra/broker/` knows FastStream and the broker clients, so a
new broker is a new module there, and the services see nothing but the `Transport` protocol."""

import ast
import inspect
from pathlib import Path

from infra.broker.transport import Transport

ROOT = Path(__file__).resolve().parents[2]
BROKER_LIBRARIES = {"faststream", "redis", "nats", "aiokafka", "aio_pika"}


def broker_imports(path: Path) -> set[str]:
    """The broker libraries a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & BROKER_LIBRARIES


def test_only_infra_broker_imports_a_broker_library() -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(broker_imports(path))
        for package in ("events", "projections", "services", "infra")
        for path in (ROOT / package).rglob("*.py")
        if broker_imports(path) and not path.is_relative_to(ROOT / "infra" / "broker")
    }

    assert offending == {}


def test_publishing_takes_a_channel_and_bodies_only() -> None:
    parameters = list(inspect.signature(Transport.publish).parameters)

    assert parameters == ["self", "channel", "bodies"]
    assert not hasattr(Transport, "broker")
