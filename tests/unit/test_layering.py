"""Imports flow one way: events <- projections <- services; infra is wired in by services."""

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


def project_imports(path: Path) -> set[str]:
    """The project packages a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(project_imports(path) - MAY_IMPORT[package])
        for path in (ROOT / package).rglob("*.py")
        if project_imports(path) - MAY_IMPORT[package]
    }

    assert offending == {}
