"""The dashboard's first paint, measured in Chromium against a running `zs up` (issue 20: under
a second on the national demo for Portfolio and Vergleich). A benchmark, not a test: it prints
and writes the figures and asserts nothing.

```sh
ZS_DATA_DIR=/tmp/natl ZS_HTTP_PORT=8100 .venv/bin/zs up --national   # wait for "Demo data: ..."
.venv/bin/python -m tests.benchmarks.dashboard_paint --api http://127.0.0.1:8100 \\
    --token "$(ZS_DATA_DIR=/tmp/natl .venv/bin/zs token issue --role auditor)"
```

First paint here is the time from the navigation's start until the page has drawn its data:
`main[data-ready=true]` set by the dashboard after the page's render (its API calls answered,
its tables and charts built), taken in the page by a MutationObserver at the next animation
frame, so it includes loading the HTML and the ES modules, decoding the token, every API call
and the drawing, not the browser's start. Each page is opened `--runs` times (after one
unmeasured run) in a fresh browser context each (empty cache, no session), one after another;
the median, minimum and maximum are reported with the API calls a page made, their bytes, and
the load average before and after (this machine is shared: say the load with every figure).
"""

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Response, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

FRAME = "ohne-daten"
"""An unknown route: the dashboard's frame alone (HTML, ES modules, no API call), the floor
under every page's figure on this machine at this load."""
PAGES = (FRAME, "portfolio", "compare", "laender", "kennzahlen/DE-NW", "laender/DE-NW")
"""Routes measured by default: the frame, then the two of the goal."""
GOAL_MS = 1000.0
WATCH_READY = """
window.__zsReady = null;
new MutationObserver((_, observer) => {
  const main = document.getElementById("main");
  if (main && main.dataset.ready === "true") {
    observer.disconnect();
    requestAnimationFrame(() => { window.__zsReady = performance.now(); });
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
"""


def open_once(browser: Browser, api: str, token: str, route: str) -> dict[str, float]:
    """One cold opening of `route`: milliseconds to its first paint with data, API calls, bytes."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="de-DE")
    calls: list[int] = []

    def count(response: Response) -> None:
        if "/dashboard/" not in response.url and "/static/" not in response.url:
            calls.append(int(response.headers.get("content-length") or 0))

    try:
        page = context.new_page()
        page.add_init_script(WATCH_READY)
        page.on("response", count)
        page.goto(f"{api}/dashboard/?token={token}#/{route}")
        page.wait_for_function("window.__zsReady !== null", timeout=60_000)
        ready = float(page.evaluate("window.__zsReady"))
        return {"ms": ready, "calls": len(calls), "bytes": sum(calls)}
    finally:
        context.close()


def measure(api: str, token: str, routes: Sequence[str], runs: int) -> dict[str, Any]:
    """Every route's figures, and the load average around the measurement."""
    results: dict[str, Any] = {"load_before": os.getloadavg(), "pages": {}}
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for route in routes:
                open_once(browser, api, token, route)  # unmeasured: the server's caches warm
                samples = [open_once(browser, api, token, route) for _ in range(runs)]
                times = [s["ms"] for s in samples]
                results["pages"][route] = {
                    "median_ms": statistics.median(times), "min_ms": min(times),
                    "max_ms": max(times), "runs_ms": times, "api_calls": samples[-1]["calls"],
                    "api_bytes": samples[-1]["bytes"],
                }  # fmt: skip
        finally:
            browser.close()
    results["load_after"] = os.getloadavg()
    results["seconds"] = time.monotonic() - started
    return results


def report(results: dict[str, Any]) -> str:
    """The figures as a plain table."""
    head = f"{'page':<18} {'median':>8} {'min':>8} {'max':>8} {'calls':>6} {'KiB':>8}"
    lines = [f"{head}  goal < {GOAL_MS:.0f} ms"]
    for route, page in results["pages"].items():
        met = (
            "(frame only)" if route == FRAME else "met" if page["median_ms"] < GOAL_MS else "missed"
        )
        lines.append(
            f"{route:<18} {page['median_ms']:>6.0f}ms {page['min_ms']:>6.0f}ms "
            f"{page['max_ms']:>6.0f}ms {page['api_calls']:>6} {page['api_bytes'] / 1024:>8.0f}  "
            f"{met}"
        )
    before = ", ".join(f"{x:.2f}" for x in results["load_before"])
    after = ", ".join(f"{x:.2f}" for x in results["load_after"])
    lines.append(f"load average before: {before}; after: {after}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The dashboard's first paint in Chromium.")
    parser.add_argument("--api", required=True, help="the running API, http://127.0.0.1:PORT")
    parser.add_argument(
        "--token", default=os.environ.get("ZS_BENCH_TOKEN"), help="a bearer token (auditor)"
    )
    parser.add_argument("--runs", type=int, default=5, help="measured openings per page")
    parser.add_argument("--pages", default=",".join(PAGES), help="routes, comma-separated")
    parser.add_argument("--out", type=Path, default=Path(".zs/bench/dashboard-paint.json"))
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token or ZS_BENCH_TOKEN is required")
    results = measure(args.api, args.token, args.pages.split(","), args.runs)
    print(report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
