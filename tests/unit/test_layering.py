"""Imports flow one way: events <- projections <- services; infra is wired in by services.
Inside services: the pipeline and the API know nothing of the CLI, the pipeline nothing of the
API, and the bootstrap nothing of any of them. Inside infra/broker: each broker's module knows
only the transport protocol, and the supervisor only the protocol. No test module imports
another (shared helpers live in conftest.py or a helpers module)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("events", "projections", "services", "infra")
MAY_IMPORT = {
    "events": {"events"},
    "projections": {"events", "projections"},
    "infra": {"infra"},
    "services": set(PACKAGES),
}
BROKER_MAY_IMPORT = {"transport": set(), "supervisor": {"transport"}}
"""Every other module of infra/broker is one broker's transport and may import only the
protocol; the package's `__init__` (the factory) may import them all."""
SERVICE_PARTS = ("api", "cli", "pipeline", "bootstrap", "replay")
MAY_IMPORT_WITHIN_SERVICES = {
    "bootstrap": set(),
    "replay": set(),
    "pipeline": {"pipeline", "bootstrap"},
    "api": {"api", "pipeline", "replay"},
    "cli": set(SERVICE_PARTS),
}


def imported_modules(path: Path) -> set[str]:
    """The absolute module names a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def project_imports(path: Path) -> set[str]:
    """The project packages a module imports."""
    return {name.split(".")[0] for name in imported_modules(path)} & set(PACKAGES)


def broker_part(name: str) -> str | None:
    """`redis`, `transport`, ... for a module of `infra.broker` (`__init__` for the package)."""
    parts = name.split(".")
    if parts[:2] != ["infra", "broker"]:
        return None
    return parts[2] if len(parts) > 2 else "__init__"


def service_part(name: str) -> str | None:
    """`api`, `cli`, ... for a module under `services`, else None."""
    parts = name.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(project_imports(path) - MAY_IMPORT[package])
        for path in (ROOT / package).rglob("*.py")
        if project_imports(path) - MAY_IMPORT[package]
    }

    assert offending == {}


@pytest.mark.parametrize("part", SERVICE_PARTS)
def test_service_part_imports_only_the_parts_below_it(part: str) -> None:
    paths = [ROOT / "services" / f"{part}.py", *(ROOT / "services" / part).rglob("*.py")]
    offending = {}
    for path in paths:
        if not path.exists():
            continue
        parts = {service_part(name) for name in imported_modules(path)} - {None}
        if parts - MAY_IMPORT_WITHIN_SERVICES[part]:
            offending[str(path.relative_to(ROOT))] = sorted(
                str(p) for p in parts - MAY_IMPORT_WITHIN_SERVICES[part]
            )

    assert offending == {}


def test_every_service_module_belongs_to_a_part() -> None:
    loose = [
        path.name
        for path in (ROOT / "services").iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and path.stem not in {"__init__", *SERVICE_PARTS}
    ]

    assert loose == []


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "infra" / "broker").glob("*.py") if p.stem != "__init__"),
    ids=lambda path: path.stem,
)
def test_broker_module_imports_only_the_protocol(path: Path) -> None:
    may_import = BROKER_MAY_IMPORT.get(path.stem, {"transport"})
    parts = {broker_part(name) for name in imported_modules(path)} - {None, path.stem}

    assert parts - may_import == set()


def imports_of_test_modules(path: Path) -> list[str]:
    """The test modules (`test_*`) a module imports, absolutely or relatively."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [alias.name for alias in node.names if node.level]
        found += [name for name in names if name.split(".")[-1].startswith("test_")]
    return found


def test_no_test_module_imports_another() -> None:
    offending = {
        str(path.relative_to(ROOT)): imports_of_test_modules(path)
        for path in (ROOT / "tests").rglob("*.py")
        if imports_of_test_modules(path)
    }

    assert offending == {}
