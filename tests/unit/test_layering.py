"""Imports flow one way: events <- projections <- services; infra is wired in by services.
Inside services: the bootstrap is the composition root (it wires the pipeline and the API; only
the CLI imports it); the pipeline and the API know nothing of the CLI or the bootstrap, the
pipeline nothing of the API. Inside projections: each projection's package
knows only itself and the engine, and the engine no projection. No module imports itself back
through others (no import cycle). A calculation does no IO: it and everything it imports import
neither asyncpg nor the store; and no module but the store names the store's table
(`store.events`) in a statement. Inside infra/broker: each broker's module knows
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
SERVICE_PARTS = ("api", "cli", "pipeline", "bootstrap", "replay", "reports")
MAY_IMPORT_WITHIN_SERVICES = {
    "bootstrap": {"pipeline", "api"},
    "replay": set(),
    "reports": {"reports", "replay"},
    "pipeline": {"pipeline"},
    "api": {"api", "pipeline", "replay", "reports"},
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


def module_name(path: Path) -> str:
    """`projections.engine.runner` for ROOT/projections/engine/runner.py."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def projection_package(name: str) -> str | None:
    """`attainment`, `engine`, ... for a module under `projections` (None: not in a package)."""
    parts = name.split(".")
    return parts[1] if parts[0] == "projections" and len(parts) > 2 else None


@pytest.mark.parametrize(
    "package",
    sorted(p.name for p in (ROOT / "projections").iterdir() if (p / "__init__.py").exists()),
)
def test_projection_package_knows_only_itself_and_the_engine(package: str) -> None:
    may_import = {"engine"} if package == "engine" else {package, "engine"}
    offending = {}
    for path in (ROOT / "projections" / package).rglob("*.py"):
        named = {name for name in imported_modules(path) if name.startswith("projections.")}
        others = sorted(n for n in named if projection_package(n) not in may_import)
        if others:
            offending[str(path.relative_to(ROOT))] = others

    assert offending == {}


def import_graph() -> dict[str, set[str]]:
    """Each project module -> the project modules it imports (at any level of the code)."""
    paths = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {
        name: {imported for imported in imported_modules(path) if imported in paths} - {name}
        for name, path in paths.items()
    }


def test_no_import_cycle() -> None:
    graph = import_graph()
    cycles = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                cycles.append([*trail[trail.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])

    assert cycles == []


CALCULATION_MODULES = (
    "calculation",
    "inputs",
    "answers",
    "aggregations",
    "results",
    "batch",
    "codec",
)
"""The modules of a projection's package that compute (its projection and rebuild do IO)."""
PURE_MODULES = ("events.log", "events.trusted", "projections.engine.decoded")
STORE = "events.store"


def calculation_modules() -> list[str]:
    """Every calculation module of the projections' packages, and the pure modules they use."""
    found = [
        module_name(path)
        for path in (ROOT / "projections").glob("*/*.py")
        if path.stem in CALCULATION_MODULES
    ]
    return sorted({*found, *PURE_MODULES})


def reached_imports(name: str) -> set[str]:
    """Every module `name` imports, directly or through the project's modules it imports."""
    paths = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    reached: set[str] = set()
    todo = [name]
    while todo:
        for imported in imported_modules(paths[todo.pop()]) - reached:
            reached.add(imported)
            if imported in paths:
                todo.append(imported)
    return reached


@pytest.mark.parametrize("module", calculation_modules())
def test_a_calculation_module_does_no_io(module: str) -> None:
    io = {n for n in reached_imports(module) if n.split(".")[0] == "asyncpg" or n == STORE}

    assert io == set()


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            found.add(id(body[0].value))
    return found


def names_the_log(path: Path) -> list[str]:
    """The string constants of a module (not its docstrings) that name `store.events`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = docstrings(tree)
    return [
        node.value.strip()[:60]
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and "store.events" in node.value
    ]


def test_only_the_store_names_the_log_table() -> None:
    offending = {
        str(path.relative_to(ROOT)): names_the_log(path)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if module_name(path) != STORE and names_the_log(path)
    }

    assert offending == {}


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
