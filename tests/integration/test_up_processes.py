"""`zs up` runs the ingest, relay and projector as child processes: each is started again when
it dies, and all stop with `zs up`."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from infra.embedded import free_port
from tests.integration.processes import ZS, stop, wait_until_ready

RESTART_TIMEOUT_S = 60


def children(pid: int) -> dict[str, int]:
    """The `zs` service processes `pid` started: command -> pid."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with open(f"/proc/{child}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
        for command in ("ingest", "relay", "project"):
            if command.encode() in words:
                found[command] = int(child)
    return found


def gone(pid: int) -> bool:
    """Whether process `pid` no longer exists (or is a zombie nobody waited for yet)."""
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_up_restarts_a_service_process_that_died_and_stops_all(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    env |= {"ZS_HTTP_PORT": str(free_port()), "ZS_DATA_DIR": str(tmp_path / ".zs")}
    process = subprocess.Popen(
        [ZS, "up", "--no-demo"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "database" in wait_until_ready(process)
        started = children(process.pid)
        assert sorted(started) == ["ingest", "project", "relay"]
        os.kill(started["project"], signal.SIGKILL)
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while children(process.pid).get("project") in (None, started["project"]):
            assert time.monotonic() < deadline, "the projector was not started again"
            time.sleep(0.2)
        running = children(process.pid)
    finally:
        code = stop(process)
        _, stderr = process.communicate(timeout=60)

    assert code == 0
    assert "Traceback" not in stderr
    assert "service process died; starting it again" in stderr
    assert all(gone(pid) for pid in running.values())
