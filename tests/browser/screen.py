"""What the browser tests read off the dashboard and the API: a role's page opened and rendered,
the text a person sees, the words and codes that must never reach the screen, the API's answer
for a role, axe-core's serious violations, and the size chart text is drawn at."""

import re
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.browser.conftest import TOKENS

FORBIDDEN = [
    "null", "undefined", "NaN", "Infinity", "[object", "Error", "error", "forbidden", "not_found",
    "unauthenticated", "sum", "mean", "ratio", "quota", "mean_rate", "last", "change_of_sum",
    "change_of_mean", "achieved", "missed", "on_track", "at_risk", "no_data", "total", "women",
    "men", "reader", "auditor", "admin", "preliminary", "final", "at_least", "at_most", "count",
    "percent", "eur", "agreed_plan", "prior_year_profile", "linear", "waiting_period",
]  # fmt: skip
"""English words and codes of the API that must never reach the screen."""


def get(api: str, path: str, role: str = "auditor", **params: Any) -> Any:
    """The API's JSON answer for `role`."""
    headers = {"Authorization": f"Bearer {TOKENS[role]}"}
    response = httpx.get(f"{api}{path}", params=params, headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()


def slugs(api: str, role: str = "auditor") -> set[str]:
    """The raw codes the API answers with: agreement, target and budget-line ids, indicators."""
    found: set[str] = set()
    for agreement in get(api, "/agreements", role, limit=1000)["items"]:
        detail = get(api, f"/agreements/{agreement['agreement_id']}", role)
        found.add(agreement["agreement_id"])
        found.update(t["target_id"] for t in detail["targets"])
        found.update(t["indicator"] for t in detail["targets"])
        found.update(b["budget_line"] for b in detail["budget_lines"])
        found.update(g["goal_id"] for g in detail["goals"] if re.search(r"[-_]", g["goal_id"]))
    return found


def open_as(page: Page, api: str, role: str, route: str = "") -> None:
    """Open the dashboard with `role`'s token at `route` and wait until it has rendered."""
    page.goto(f"{api}/dashboard/?token={TOKENS[role]}#/{route}")
    page.wait_for_selector("main[data-ready=true]")


def screen_text(page: Page) -> str:
    """What a person reads on the page: everything but raw message bodies and ids shown to
    auditors (`.mono`) and folded technical messages (`details`)."""
    return str(
        page.evaluate("""() => {
        const hide = document.createElement("style");
        hide.textContent = ".mono, details { display: none !important; }";
        document.head.append(hide);
        const text = document.body.innerText;
        hide.remove();
        return text;
    }""")
    )


def assert_german(page: Page, codes: set[str]) -> None:
    """No forbidden word and no raw code of the API is on screen."""
    text = screen_text(page)
    for word in [*FORBIDDEN, *codes]:
        found = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)
        context = text[max(0, found.start() - 60) : found.end() + 60] if found else ""
        assert found is None, f"{word!r} on screen: …{context}…"


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG 2 A/AA violations on the page."""
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    found: list[dict[str, Any]] = page.evaluate("""async () => {
        const result = await axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
        return result.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                           nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    }""")
    return found


def smallest_chart_text(page: Page) -> float:
    """The smallest font size, in CSS pixels as drawn, of any chart text on the page (SVG text
    is sized in the chart's user units, scaled with the chart's width)."""
    return float(
        page.evaluate("""() => Math.min(...[...document.querySelectorAll("svg text")]
            .filter((text) => text.getBBox().width > 0)
            .map((text) => parseFloat(getComputedStyle(text).fontSize)
                           * text.ownerSVGElement.getScreenCTM().a))""")
    )
