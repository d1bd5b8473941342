"""Browser tests: a real `zs up` with the demo data (embedded servers, its own data directory and
port) driven through Debian's Chromium by Playwright. Run with `make test-browser`; never
`playwright install` (Chromium comes from `apt-get install chromium`).

Screenshots of every page, at 1440 px and at 390 px wide, go to `ZS_SCREENSHOT_DIR` (default
`.ci/artifacts/screenshots/`, the CI artefact folder), named at the end of the run."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from infra.embedded import free_port
from projections.registry import PROJECTIONS
from services.cli.demo import demo_envelopes

ZS = str(Path(sys.executable).parent / "zs")
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ZS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(os.environ.get("ZS_SCREENSHOT_DIR", ROOT / ".ci" / "artifacts" / "screenshots"))
WIDTHS = (1440, 390)
"""Screenshot widths: a laptop and a phone."""
READY_TIMEOUT_S = 120
NATIONAL_VARIANT = ("--jobcenters", "48", "--years", "2")
"""The national demo in small: 48 jobcenters in all 16 Länder, two years (12,685 messages;
the full demo's 173,911 take minutes to load)."""
NATIONAL_TIMEOUT_S = 600
BAD_ENVELOPES: list[Any] = [
    {"message_id": "browser-bad-1", "source": "browser-test", "type": "MonthlyFigureReported",
     "schema_version": 1, "occurred_at": "2026-01-01T00:00:00Z",
     "data": {"jobcenter_id": "99999", "indicator": "integrations", "period": "2022-01",
              "breakdown": "total", "value": 1, "status": "final"}},
    "not an envelope",
]  # fmt: skip


TOKENS: dict[str, str] = {}
"""Tokens of the running `zs up` by role (its banner's auditor, others from `zs token issue`)."""


def bearer(role: str = "auditor") -> dict[str, str]:
    """The Authorization header for `role`."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def issue(env: dict[str, str], workdir: Path, *args: str) -> str:
    """A token from `zs token issue`, signed with the running system's local key."""
    issued = subprocess.run(
        [ZS, "token", "issue", *args], cwd=workdir, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    return issued.stdout.strip()


@contextmanager
def zs_up(workdir: Path, *options: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A `zs up` in `workdir` (its own data folder and port) with `options`: its API's URL and
    environment once announced, its banner's auditor token in `TOKENS["banner"]`; stopped with
    SIGINT."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZS_")}
    env |= {"ZS_HTTP_PORT": str(free_port()), "ZS_DATA_DIR": str(workdir / ".zs")}
    log = workdir / "zs-up.log"
    process = subprocess.Popen(
        [ZS, "up", *options], cwd=workdir, env=env, stdout=subprocess.PIPE,
        stderr=log.open("w"), text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = token = None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while token is None and time.monotonic() < deadline:
            words = process.stdout.readline().split()
            if not words and process.poll() is not None:
                break
            if len(words) == 2 and words[0] == "API":
                url = words[1]
            if len(words) == 2 and words[0] == "token":
                token = words[1]
        assert url and token, f"zs up did not announce its API: {log.read_text()[-3000:]}"
        TOKENS["banner"] = token
        yield url, env
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=60)


def projected(api: str, role: str, least: int) -> bool:
    """Whether at least `least` events are recorded and every projection has applied them."""
    try:
        health = httpx.get(f"{api}/health", headers=bearer(role), timeout=2).json()
    except httpx.HTTPError:
        return False
    position = health["position"] or 0
    return position >= least and all(
        checkpoint == position for checkpoint in health["projections"].values()
    ) and set(health["projections"]) == {projection.name for projection in PROJECTIONS}  # fmt: skip


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a `zs up` with the demo data projected and two rejections."""
    workdir = tmp_path_factory.mktemp("zs-browser")
    with zs_up(workdir) as (url, env):
        TOKENS["auditor"] = TOKENS["banner"]
        TOKENS["source"] = issue(env, workdir, "--role", "source", "--source", "browser-test")
        TOKENS["reader-he"] = issue(env, workdir, "--role", "reader", "--land", "DE-HE")
        TOKENS["reader-nw"] = issue(env, workdir, "--role", "reader", "--land", "DE-NW")
        TOKENS["reader-odw"] = issue(env, workdir, "--role", "reader", "--jobcenter", "06437")
        TOKENS["admin"] = issue(env, workdir, "--role", "admin")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not projected(url, "auditor", len(demo_envelopes())):
            assert time.monotonic() < deadline, (
                f"the demo data was not projected in time: /health says "
                f"{httpx.get(f'{url}/health', headers=bearer(), timeout=2).text}"
            )
            time.sleep(0.2)
        httpx.post(
            f"{url}/ingest", json=BAD_ENVELOPES, headers=bearer("source"), timeout=10
        ).raise_for_status()
        yield url


@pytest.fixture(scope="session")
def national_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a `zs up` with a national-shape variant of the national demo loaded by
    `zs demo national` (`NATIONAL_VARIANT`: all 16 Länder, federal and Land agreements);
    its tokens are `TOKENS["national-<role>"]`."""
    workdir = tmp_path_factory.mktemp("zs-browser-national")
    with zs_up(workdir, "--no-demo") as (url, env):
        TOKENS["national-auditor"] = TOKENS["banner"]
        TOKENS["national-reader-nw"] = issue(env, workdir, "--role", "reader", "--land", "DE-NW")
        loaded = subprocess.run(
            [ZS, "demo", "national", *NATIONAL_VARIANT], cwd=workdir, env=env,
            capture_output=True, text=True, timeout=NATIONAL_TIMEOUT_S,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium (never playwright install)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at laptop size; fails the test on a JavaScript error."""
    context = browser.new_context(
        viewport={"width": WIDTHS[0], "height": 900}, locale="de-DE", accept_downloads=True
    )
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def screenshot(page: Page, name: str) -> list[Path]:
    """Save full-page screenshots of `page` at each of `WIDTHS` as `<name>-<width>.png` in the
    run's folder; the page is left at its first width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": WIDTHS[0], "height": 900}
    paths = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": size["height"]})
        path = SCREENSHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size(size)
    return paths


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the screenshots' folder at the end of the run."""
    if SCREENSHOTS.exists():
        shots = sorted(SCREENSHOTS.glob("*.png"))
        terminalreporter.write_line(f"screenshots ({len(shots)}): {SCREENSHOTS}")
