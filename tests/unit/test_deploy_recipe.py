"""The deployment recipe (infra/deploy/) names only `zs` commands that exist and `ZS_*` settings
that `infra.settings.Settings` reads: a renamed command or setting breaks this test, not a
production start."""

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from infra.settings import Settings
from services.cli.main import app

DEPLOY = Path(__file__).resolve().parents[2] / "infra" / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
RECIPE_FILES = [DEPLOY / "compose.yaml", DEPLOY / "Dockerfile", DEPLOY / "zs.env.example", *UNITS]
SETTING = re.compile(r"\bZS_[A-Z0-9_]+\b")
ZS_BINARY = re.compile(r"(?:^|/)zs$")


def cli_commands() -> set[tuple[str, ...]]:
    """Every command path of the `zs` Typer app: ("up",), ("audit", "verify"), ..."""
    found: set[tuple[str, ...]] = set()

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group (Typer's own click or the click package)
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found.add(path)

    walk(typer.main.get_command(app), ())
    return found


def command_path(arguments: list[str]) -> tuple[str, ...]:
    """The command path at the start of `zs`'s arguments (options and values dropped)."""
    words = [word for word in arguments if not word.startswith("-")]
    known = cli_commands()
    for length in (2, 1):
        if tuple(words[:length]) in known:
            return tuple(words[:length])
    return tuple(words[:1])


def compose() -> dict[str, Any]:
    """compose.yaml, anchors and merge keys resolved."""
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def zs_invocations() -> list[tuple[str, list[str]]]:
    """(where, arguments) of every `zs` the recipe runs."""
    found = []
    for name, service in compose()["services"].items():
        if "build" in service or str(service.get("image", "")).startswith("zielsteuerung"):
            found.append((f"compose {name}", list(service["command"])))
        test = service.get("healthcheck", {}).get("test", [])
        if len(test) > 1 and test[0] == "CMD" and test[1] == "zs":
            found.append((f"compose {name} healthcheck", list(test[2:])))
    for unit in UNITS:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(unit)
        for key in ("ExecStart", "ExecStartPre", "ExecStop"):
            if parser.has_option("Service", key):
                words = shlex.split(parser.get("Service", key))
                if words and ZS_BINARY.search(words[0]):
                    found.append((f"{unit.name} {key}", words[1:]))
    return found


def test_the_recipe_runs_every_service_and_a_migration() -> None:
    commands = {command_path(arguments) for _, arguments in zs_invocations()}

    assert {("migrate",), ("ingest",), ("relay",), ("project",), ("api",)} <= commands
    assert {unit.name for unit in UNITS} == {
        "zs-ingest@.service", "zs-relay.service", "zs-project.service", "zs-api.service",
        "zs-migrate.service",
    }  # fmt: skip


@pytest.mark.parametrize("where, arguments", zs_invocations(), ids=lambda value: str(value))
def test_every_zs_command_the_recipe_names_exists(where: str, arguments: list[str]) -> None:
    assert command_path(arguments) in cli_commands(), where


def test_every_setting_the_recipe_names_exists() -> None:
    known = {f"ZS_{name.upper()}" for name in Settings.model_fields}
    named = {
        (path.name, setting)
        for path in RECIPE_FILES
        for setting in SETTING.findall(path.read_text())
    }

    assert {setting for _, setting in named} - known == set(), sorted(named)
    assert len(named) > 5


def test_compose_has_postgres_15_and_redis_7_with_appendonly_fsync_everysec() -> None:
    services = compose()["services"]

    assert services["postgres"]["image"] == "postgres:15"
    assert any(volume.endswith(":/var/lib/postgresql/data")
               for volume in services["postgres"]["volumes"])  # fmt: skip
    assert services["redis"]["image"] == "redis:7"
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    for name in ("ingest", "relay", "project", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "test" in services[name]["healthcheck"], name
