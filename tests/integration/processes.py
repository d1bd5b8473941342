"""The `zs` command as processes: one command run to its end (`run_zs`), and the services as
separate `zs ingest`, `zs relay` and `zs project` processes, as a supervisor runs them: a test can
kill, freeze (SIGSTOP) and thaw (SIGCONT) each one."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from infra.roles import DbRole
from services.bootstrap import Servers
from services.pipeline.run import Part
from tests.conftest import TEST_DATA_DIR

ZS = str(Path(sys.executable).parent / "zs")
STARTUP_S = 120.0
"""How long a service process may take to import and install its signal handlers."""


BANNER_TIMEOUT_S = 240
"""The first start loads the demo (about 300 envelopes) before it announces itself."""


def environment(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """This process's environment without ZS_ settings, then the given ones."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    return env | {"ZS_DATA_DIR": str(data_dir), "ZS_HTTP_PORT": str(port)} | settings


def start(env: dict[str, str], log: Path, *args: str) -> "subprocess.Popen[str]":
    """`zs up ARGS` with its stderr in `log`."""
    with log.open("w") as stderr:
        return subprocess.Popen(
            [ZS, "up", *args], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )


def banner(process: "subprocess.Popen[str]") -> dict[str, str]:
    """The announced URLs keyed by their first word (empty if `zs up` ended first)."""
    assert process.stdout is not None
    announced: dict[str, str] = {}
    deadline = time.monotonic() + BANNER_TIMEOUT_S
    while "database" not in announced and "broker" not in announced:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            return announced
        if len(words := line.split()) == 2:
            announced[words[0]] = words[1]
    return announced


def zs(env: dict[str, str], *args: str) -> "subprocess.CompletedProcess[str]":
    """A `zs` command run to its end."""
    return subprocess.run([ZS, *args], env=env, capture_output=True, text=True, timeout=120)


def catches_sigterm(pid: int) -> bool:
    """Whether process `pid` has installed a SIGTERM handler (Linux: its `SigCgt` mask), so a
    SIGTERM stops it cleanly rather than killing it the default way."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def run_zs(
    *args: str, database_url: str | None = None, cwd: Path | None = None
) -> "subprocess.CompletedProcess[str]":
    """Run `zs` with the given database and no other ZS_ settings but the tests' data folder:
    the services' logins belong to the server, so a command given the tests' server must find
    the passwords the session gave them (another folder would give them new ones, and every
    later test's logins would be refused)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    if database_url:
        env |= {"ZS_DATABASE_URL": database_url, "ZS_DATA_DIR": str(TEST_DATA_DIR)}
    return subprocess.run(
        [ZS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


class Processes:
    """One process per part (every part by default), restartable; each connects with its own
    login only (no owner's URL), as in production."""

    def __init__(
        self,
        urls: Servers,
        logins: Mapping[DbRole, str],
        logs: Path,
        parts: Iterable[Part] = tuple(Part),
        *,
        log_level: str = "warning",
    ) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ZS_")} | {
            "ZS_BROKER_URL": urls.broker_url, "ZS_REDELIVER_AFTER_S": "1",
            "ZS_LOG_LEVEL": log_level, "ZS_LOG_FORMAT": "json",
            "ZS_BROKER_TRUSTED_NETWORK": "true",  # the workloads go to the shared zs.ingest
        } | {role.setting: url for role, url in logins.items()}  # fmt: skip
        self.logs = logs
        self.running = {part: self.start(part) for part in parts}
        self.kills = dict.fromkeys(self.running, 0)

    def start(self, part: Part) -> "subprocess.Popen[bytes]":
        """Start one service process."""
        log = (self.logs / f"{part}.log").open("ab")
        return subprocess.Popen([ZS, str(part)], env=self.env, stdout=log, stderr=log)

    def kill_and_restart(self, part: Part) -> None:
        """SIGKILL one service and start it again."""
        process = self.running[part]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.kills[part] += 1
        self.running[part] = self.start(part)

    def has_logged(self, part: Part, event: str) -> bool:
        """Whether the service's log (JSON lines) holds `event`."""
        return f'"event": "{event}"' in (self.logs / f"{part}.log").read_text(errors="replace")

    def freeze(self, part: Part) -> None:
        """SIGSTOP one service: it holds its connections and leases but does nothing."""
        self.running[part].send_signal(signal.SIGSTOP)

    def thaw(self, part: Part) -> None:
        """SIGCONT one service (harmless when it is not frozen)."""
        self.running[part].send_signal(signal.SIGCONT)

    def stop(self) -> list[int | None]:
        """Thaw and SIGTERM every service once started (a signal while the interpreter is still
        loading kills it the default way, before any handler exists); their exit codes."""
        deadline = time.monotonic() + STARTUP_S
        for process in self.running.values():
            while process.poll() is None and not catches_sigterm(process.pid):
                assert time.monotonic() < deadline, f"{process.args} never caught SIGTERM"
                time.sleep(0.05)
        for process in self.running.values():
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=30) for process in self.running.values()]


READY_TIMEOUT_S = 60


def start_up(workdir: Path, port: int) -> "subprocess.Popen[str]":
    """`zs up --no-demo` with no database or broker configured, in `workdir`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    env |= {"ZS_HTTP_PORT": str(port), "ZS_DATA_DIR": str(workdir / ".zs")}
    return subprocess.Popen(
        [ZS, "up", "--no-demo"], cwd=workdir, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def wait_until_ready(process: "subprocess.Popen[str]") -> dict[str, str]:
    """Read the announcement lines; return them keyed by their first word."""
    assert process.stdout is not None
    announced: dict[str, str] = {}
    deadline = time.monotonic() + READY_TIMEOUT_S
    while "database" not in announced and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        words = line.split()
        if len(words) == 2:
            announced[words[0]] = words[1]
    return announced


def stop(process: "subprocess.Popen[str]") -> int:
    """Ctrl-C to a process, then its exit code."""
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)
