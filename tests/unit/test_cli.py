"""The `zs` command as a new user meets it, without servers: refusals with a one-line reason,
quiet logs for terminal commands, the Makefile's two environments, and the answers' rounding."""

import logging
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from events.numbers import answer_number
from infra.settings import get_settings
from projections.attainment.answers import TargetResult
from services.api.metrics import exposed_metrics
from services.cli.main import app
from services.cli.publish import NotJson, read_lines
from services.pipeline import metrics
from services.pipeline.children import METRICS_DIR_VARIABLE

ROOT = Path(__file__).resolve().parents[2]


def test_a_land_that_is_no_iso_code_is_refused() -> None:
    result = CliRunner().invoke(app, ["token", "issue", "--role", "reader", "--land", "NRW"])

    assert result.exit_code == 2
    assert "unknown Land NRW" in result.output
    assert "DE-BW" in result.output and "DE-TH" in result.output


def test_publishing_a_missing_file_is_one_line_of_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["publish", str(tmp_path / "missing.ndjson")])

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # no traceback: typer's exit
    assert result.output.strip().splitlines() == [
        f"Error: cannot read {tmp_path / 'missing.ndjson'}: No such file or directory"
    ]


def test_lines_that_are_not_json_are_named_by_number(tmp_path: Path) -> None:
    path = tmp_path / "lines.ndjson"
    path.write_text('{"source": "x"}\n\nnot json\n{"a":\n')

    with pytest.raises(NotJson) as refused:
        read_lines(path)

    assert [line.split(":")[0] for line in str(refused.value).splitlines()] == ["line 3", "line 4"]
    assert "not JSON" in str(refused.value)


@pytest.mark.parametrize(("configured", "level"), [(None, logging.WARNING), ("info", logging.INFO)])
def test_terminal_commands_log_warnings_only_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: str | None, level: int
) -> None:
    if configured:
        monkeypatch.setenv("ZS_LOG_LEVEL", configured)
    else:
        monkeypatch.delenv("ZS_LOG_LEVEL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["schema", "export", str(tmp_path / "schemas")])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert logging.getLogger().level == level


def test_an_attainment_answer_carries_no_float_artefacts() -> None:
    mean = Decimal(24652) / 12
    result = TargetResult(
        target_id="ltb-total", indicator="ltb_stock", breakdown="total", comparator="at_most",
        unit="count", aggregation="mean", agreed_value=Decimal("2054.5"),
        target_value=Decimal("2054.5"), actual=mean, months_reported=12,
        expected_to_date=Decimal("2054.5"), forecast=mean,
        attainment_pct=Decimal("2054.5") / mean * 100, status="achieved", final=True,
        revised_after_close=False,
    )  # fmt: skip

    answer = result.model_dump(mode="json")

    assert (answer["actual"], answer["forecast"], answer["attainment_pct"]) == (
        2054.33, 2054.33, 100.01,
    )  # fmt: skip
    assert answer["agreed_value"] == 2054.5


def test_the_answers_round_computed_numbers_to_two_decimals() -> None:
    assert answer_number(Decimal(24652) / 12) == 2054.33
    assert answer_number(Decimal("2.005")) == 2.01  # half up
    assert answer_number(Decimal("718.000")) == 718
    assert isinstance(answer_number(Decimal("718.000")), int)
    assert answer_number(Decimal(10**20)) == 10**20  # counts stay exact


@pytest.mark.slow
def test_metrics_show_every_processs_counters_and_the_gauges_as_last_set(tmp_path: Path) -> None:
    """Under `zs up` every process (the services and each API worker) keeps its metrics in one
    folder; whichever worker answers `/metrics` sums the counters and shows a gauge as last
    set, whatever this process counted outside the folder."""
    environment = {"PATH": "", METRICS_DIR_VARIABLE: str(tmp_path)}
    for child in (
        "from services.pipeline import metrics; metrics.ENVELOPES.labels('rejected').inc(3)",
        "from services.pipeline import metrics; metrics.ENVELOPES.labels('rejected').inc(2)",
        "from services.api import metrics; metrics.HEAD.set(7)",
        "from services.api import metrics; metrics.HEAD.set(9)",
    ):
        subprocess.run([sys.executable, "-c", child], env=environment, cwd=ROOT, check=True)
    metrics.ENVELOPES.labels("rejected").inc(4)  # not in the folder: not shown

    exposed = generate_latest(exposed_metrics(tmp_path)).decode().splitlines()

    assert 'zs_ingest_envelopes_total{outcome="rejected"} 5.0' in exposed
    assert exposed.count("# TYPE zs_ingest_envelopes_total counter") == 1
    assert "zs_store_head_position 9.0" in exposed


def test_make_run_installs_the_runtime_alone_and_make_test_the_dev_extras(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)

    def planned(target: str) -> str:
        return subprocess.run(
            ["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout

    run, test = planned("run"), planned("test")
    assert "-e ." in run and "[dev]" not in run
    assert "-c requirements.lock -e '.[dev]'" in test
    assert "zs up" in run and "pytest" in test


def test_make_test_leaves_the_slow_tests_to_make_test_slow_and_ci_runs_both(
    tmp_path: Path,
) -> None:
    """A test marked slow is out of the default run, so CI must run it in a step of its own."""
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)

    def planned(target: str) -> str:
        return subprocess.run(
            ["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout

    assert '/pytest -m "not slow"\n' in planned("test")
    assert "/pytest -m slow\n" in planned("test-slow")  # the same test paths, the rest of them
    steps = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert {"make test", "make test-slow"} <= set(steps)


@pytest.mark.parametrize(
    ("command", "says"),
    [("up", "each in a child process"), ("project", "it follows the store")],
)
def test_the_help_tells_what_a_command_does(command: str, says: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert says in " ".join(result.output.replace("│", " ").split())
