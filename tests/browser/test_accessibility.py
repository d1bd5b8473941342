"""Accessibility: axe-core (vendored under /static/vendor/axe-core/, loaded into the page by the
test only) finds no serious or critical violation of WCAG 2 A/AA on any page, for an auditor
and a Land's reader; every page can be reached and used by keyboard."""

import pytest
from playwright.sync_api import Page

from tests.browser.screen import open_as, violations

pytestmark = pytest.mark.browser

ROUTES = {
    "auditor": ["portfolio", "agreement", "agreement/odw-2022", "agreement/mkk-2018",
                "agreement/rkn-2012", "timetravel/odw-2021", "compare", "rejections"],
    "reader-nw": ["", "compare"],
}  # fmt: skip


@pytest.mark.parametrize("role", list(ROUTES))
def test_no_serious_accessibility_violation_on_any_page(page: Page, api: str, role: str) -> None:
    problems = {}
    for route in ROUTES[role]:
        open_as(page, api, role, route)
        if found := violations(page):
            problems[route or "start"] = found
    assert problems == {}


def test_the_navigation_and_the_filters_work_by_keyboard(page: Page, api: str) -> None:
    open_as(page, api, "auditor", "portfolio")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Zum Inhalt springen"
    for _ in range(12):  # the brand, then the tabs in order
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.page") == "agreement":
            break
    assert page.evaluate("document.activeElement.dataset.page") == "agreement"
    page.keyboard.press("Enter")
    page.wait_for_selector("#agreement-list")
    assert page.url.endswith("#/agreement")

    open_as(page, api, "auditor", "portfolio")
    page.focus("#f-year")
    page.keyboard.press("ArrowDown")  # the first year, 2012: one agreement without targets
    page.wait_for_function("location.hash.includes('year=2012')")
    page.wait_for_function("document.querySelectorAll('tr.target-row').length === 0")
    assert page.locator('tr[data-agreement-row="rkn-2012"]').count() == 1
