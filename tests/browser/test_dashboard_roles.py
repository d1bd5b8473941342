"""The dashboard as its users meet it: each role lands in its scope and sees only the views it
may open, every page speaks German (no `null`, no English code, no slug), downloads carry the
token and arrive as files, dates are typed the German way, and every change names its month.
Screenshots of every page at 1440 px and 390 px."""

import csv
import io
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import TOKENS, screenshot
from tests.browser.screen import assert_german, get, open_as, screen_text, slugs

pytestmark = pytest.mark.browser

MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
          "Oktober", "November", "Dezember"]  # fmt: skip
PAGES = {
    "auditor": ["portfolio", "agreement", "agreement/odw-2022", "agreement/odw-2021",
                "agreement/mkk-2018", "agreement/rkn-2012", "timetravel/odw-2021", "compare",
                "rejections"],
    "reader-he": ["", "agreement/mkk-2018", "timetravel/odw-2022", "compare"],
    "reader-nw": ["", "agreement/rkn-2012", "compare", "agreement/odw-2021"],
    "reader-odw": ["", "agreement/odw-2022", "compare"],
    "admin": [""],
}  # fmt: skip


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_speaks_german_for_every_role(page: Page, api: str, role: str) -> None:
    codes = slugs(api)
    for route in PAGES[role]:
        open_as(page, api, role, route)
        name = f"{role}-{route.replace('/', '-') or 'start'}"
        screenshot(page, name)
        assert_german(page, codes)
        assert page.locator("main").inner_text().strip(), f"{name} is empty"


def test_a_lands_reader_lands_in_its_land_and_sees_agreements_without_targets(
    page: Page, api: str
) -> None:
    agreements = get(api, "/agreements", role="reader-nw", limit=1000)["items"]
    open_as(page, api, "reader-nw")

    assert "land=DE-NW" in page.url
    assert page.locator("#scope-note").inner_text() == "Ihr Bereich: Nordrhein-Westfalen"
    assert page.input_value("#f-land") == "DE-NW"
    assert agreements and all(a["land"] == "DE-NW" for a in agreements)
    for agreement in agreements:
        assert page.locator(f'tr[data-agreement-row="{agreement["agreement_id"]}"]').count() == 1
    assert page.locator("tr.no-targets-row").count() >= 1
    tabs = page.locator("#nav a")
    shown = [tabs.nth(i).inner_text() for i in range(tabs.count())]
    assert "Abweisungen" not in shown  # an auditor's tab: hidden, not a 403
    assert {"Portfolio", "Zielvereinbarung", "Zeitreise", "Vergleich"} <= set(shown)
    assert page.locator("#metrics-download").count() == 0

    assert [o.get_attribute("value") for o in page.locator("#f-land option").all()] == ["", "DE-NW"]
    open_as(page, api, "reader-nw", "portfolio?land=DE-HE")  # a shared link of another Land
    assert page.locator("#portfolio-empty").inner_text() == "Hessen liegt außerhalb Ihres Bereichs."


def test_a_jobcenters_reader_sees_its_own_agreements_only(page: Page, api: str) -> None:
    rows = get(api, "/attainment", role="reader-odw", limit=1000)["items"]
    open_as(page, api, "reader-odw")

    shown = page.locator("tr.target-row")
    assert shown.count() == len(rows) > 0
    assert {r["jobcenter_id"] for r in rows} == {"06437"}
    assert "Kommunales Job-Center Odenwaldkreis" in page.locator("#scope-note").inner_text()
    assert "Jobcenter Kommunales" not in screen_text(page)


def test_an_admin_lands_on_what_it_may_open(page: Page, api: str) -> None:
    open_as(page, api, "admin")

    tabs = page.locator("#nav a")
    assert [tabs.nth(i).inner_text() for i in range(tabs.count())] == ["Abweisungen"]
    assert page.locator("tr.rejection").count() >= 2
    open_as(page, api, "admin", "portfolio")
    assert "Ihre Rolle darf diese Ansicht nicht öffnen." in page.locator("main").inner_text()


def saved(page: Page, selector: str) -> tuple[str, bytes]:
    """Click a download button and return the saved file's name and content."""
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    path = download.path()
    assert path is not None
    return download.suggested_filename, Path(path).read_bytes()


def test_downloads_carry_the_token_and_arrive_as_files(page: Page, api: str) -> None:
    open_as(page, api, "auditor", "portfolio?year=2021")
    name, body = saved(page, "#portfolio-csv")
    expected = list(csv.DictReader(io.StringIO(httpx.get(
        f"{api}/attainment", params={"year": 2021, "format": "csv"},
        headers={"Authorization": f"Bearer {TOKENS['auditor']}"}, timeout=10).text)))  # fmt: skip
    assert name.endswith(".csv")
    assert list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")))) == expected
    assert len(expected) == len(get(api, "/attainment", year=2021, limit=1000)["items"]) > 0

    name, body = saved(page, "#metrics-download")
    assert body.startswith(b"# HELP")

    name, body = saved(page, "#portfolio-pdf")
    assert name.endswith(".pdf") and body.startswith(b"%PDF")

    open_as(page, api, "auditor", "agreement/odw-2021")
    name, body = saved(page, "#agreement-csv")
    assert name.endswith(".csv") and b"integrations-total" in body
    name, body = saved(page, "#agreement-pdf")
    assert name.endswith(".pdf") and body.startswith(b"%PDF")
    name, body = saved(page, "#agreement-xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    assert name.endswith(".xlsx") and workbook.sheetnames


def test_a_lands_reader_downloads_its_lands_portfolio_report(page: Page, api: str) -> None:
    open_as(page, api, "reader-he")
    name, body = saved(page, "#portfolio-xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    cells = " ".join(
        str(cell) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)
        for cell in row if cell is not None
    )  # fmt: skip
    assert name.endswith(".xlsx") and "Hessen" in cells
    assert "06437" in cells and "05162" not in cells  # Odenwald, not Rhein-Kreis Neuss


def test_time_travel_by_publication_date_typed_in_german(page: Page, api: str) -> None:
    open_as(page, api, "auditor", "timetravel/odw-2021")
    page.fill("#tt-published", "31.02.2022")
    page.click("#tt-apply-date")
    assert "kein gültiges Datum" in page.locator("#tt-date-error").inner_text()
    assert page.get_attribute("#tt-published", "aria-invalid") == "true"

    page.fill("#tt-published", "31.01.2022")
    page.click("#tt-apply-date")
    page.wait_for_function(
        "document.querySelector('#tt-heading').textContent.startsWith('Stand der Veröffentlichung')"
    )
    then = get(api, "/agreements/odw-2021/attainment", as_published="2022-01-31T23:59:59+01:00")
    screenshot(page, "timetravel-as-published")
    assert page.locator("#tt-heading").inner_text().startswith(
        "Stand der Veröffentlichung 31.01.2022")  # fmt: skip
    for target in then["targets"]:
        row = page.locator(f'#tt-answer tr[data-target="{target["target_id"]}"]')
        shown = row.locator("td.actual").get_attribute("data-value")
        if target["actual"] is None:
            assert shown in ("", None)
        else:
            assert float(shown or "nan") == float(target["actual"])


def test_every_change_names_its_month(page: Page, api: str) -> None:
    changes = get(api, "/agreements/odw-2021/changes", from_position=0)["items"]
    corrected = [c for c in changes if c["event_type"] == "MonthlyFigureCorrected"]
    assert corrected, "the demo corrects a month of 2021"
    before = corrected[0]["position"] - 1
    open_as(page, api, "auditor", "timetravel/odw-2021")
    page.fill("#tt-position", str(before))
    page.dispatch_event("#tt-position", "change")
    page.wait_for_selector(f'#tt-answer table[data-position="{before}"]')
    page.wait_for_selector("#tt-change-table")

    for change in corrected:
        year, month = change["period"].split("-")
        row = page.locator(f'#tt-change-table tr.change[data-position="{change["position"]}"]')
        assert row.first.locator("td.event").inner_text() == (
            f"Monatswert {MONTHS[int(month) - 1]} {year} korrigiert")  # fmt: skip
