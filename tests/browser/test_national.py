"""The dashboard on the national demo's shape: a variant of it (all 16 Länder, the federal and
Land agreements, 48 jobcenters over two years) loaded through the real pipeline by `zs demo
national` into a `zs up` of its own. The portfolio groups, pages and keeps its filters in the
URL; the tile map shows every Land and leads to it; a jobcenter's key figures stand against its
type's quartile band; "Vergleich" fetches only the Land and year it shows. Every number as the
API answers it, everything in German, screenshots at 1440 px and 390 px."""

import math
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import screenshot
from tests.browser.screen import (
    assert_german,
    get,
    open_as,
    slugs,
    smallest_chart_text,
    violations,
)

pytestmark = pytest.mark.browser

AUDITOR = "national-auditor"
READER = "national-reader-nw"
"""A reader of Nordrhein-Westfalen."""
PAGE_SIZE = 40
"""Agreements per portfolio page (pages/portfolio.js)."""
MIN_TEXT_PX = 11.9
"""Chart text drawn at 12 px or more on a phone (a little rounding allowed)."""


def pct(value: Any) -> str:
    """A percentage as the dashboard writes it: "-2,49 %"."""
    text = f"{Decimal(str(value)):,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} %"


def items(api: str, path: str, role: str = AUDITOR, **params: Any) -> list[Any]:
    """Every item of a list endpoint (its pages of 1,000)."""
    found: list[Any] = []
    while True:
        answer = get(api, path, role, limit=1000, offset=len(found), **params)
        found += answer["items"]
        if len(found) >= answer["count"] or not answer["items"]:
            return found


@pytest.fixture(scope="module")
def codes(national_api: str) -> set[str]:
    """The raw codes the API answers with, none of which may reach the screen."""
    return slugs(national_api, AUDITOR)


def shown_agreements(page: Page) -> list[str]:
    return [
        str(a)
        for a in page.locator("tr.agreement-row").evaluate_all(
            "rows => rows.map(r => r.dataset.agreementRow)"
        )
    ]


def test_the_portfolio_groups_by_land_and_year_and_pages(
    page: Page, national_api: str, codes: set[str]
) -> None:
    agreements = {a["agreement_id"]: a for a in items(national_api, "/agreements")}
    lands = {a["land"] for a in agreements.values() if a["land"]}
    assert len(lands) == 16 and {a["level"] for a in agreements.values()} == {
        "federal", "land", "jobcenter"
    }  # fmt: skip
    pages = math.ceil(len(agreements) / PAGE_SIZE)
    assert pages >= 3
    open_as(page, national_api, AUDITOR, "portfolio")
    seen: list[str] = []
    for number in range(1, pages + 1):
        expect(page.locator(".pager-status").first).to_have_text(
            f"Seite {number} von {pages} · {len(agreements)} Zielvereinbarungen"
        )
        on_page = shown_agreements(page)
        assert 0 < len(on_page) <= PAGE_SIZE
        for group in page.locator("section.group").all():
            land, year = group.get_attribute("data-land"), group.get_attribute("data-year")
            inside = group.locator("tr.agreement-row").evaluate_all(
                "rows => rows.map(r => r.dataset.agreementRow)"
            )
            assert inside, f"an empty group {land} {year}"
            for agreement_id in inside:
                assert (agreements[agreement_id]["land"] or "") == land
                assert str(agreements[agreement_id]["year"]) == year
        seen += on_page
        if number == 1:
            assert page.locator("section.group").first.get_attribute("data-land") == ""  # Bund
            screenshot(page, "national-portfolio")
            assert_german(page, codes)
        if number < pages:
            page.locator(".pager button", has_text="weiter").first.click()
            expect(page.locator(".pager-status").first).to_contain_text(f"Seite {number + 1} ")
            assert f"page={number + 1}" in page.url
    assert sorted(seen) == sorted(agreements)  # every agreement once, none twice
    page.reload()
    page.wait_for_selector("main[data-ready=true]")
    expect(page.locator(".pager-status").first).to_contain_text(f"Seite {pages} von {pages}")
    assert shown_agreements(page) == seen[-len(shown_agreements(page)) :]


def test_the_portfolios_filters_are_kept_in_the_url(
    page: Page, national_api: str, codes: set[str]
) -> None:
    year = max(a["year"] for a in items(national_api, "/agreements"))
    answer = items(national_api, "/attainment", land="DE-NW", year=year, indicator="k2")
    assert answer
    open_as(page, national_api, AUDITOR, "portfolio")
    page.select_option("#f-land", "DE-NW")
    page.select_option("#f-year", str(year))
    page.select_option("#f-indicator", "k2")
    for url in ("land=DE-NW", f"year={year}", "indicator=k2"):
        assert url in page.url
    rows = page.locator("tr.target-row")
    for _ in range(2):  # as chosen, and again from the URL alone
        expect(rows).to_have_count(len(answer))
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.agreement)") == [
            r["agreement_id"] for r in answer
        ]
        actual = rows.locator("td.actual").evaluate_all("cs => cs.map(c => c.dataset.value)")
        assert [Decimal(v) for v in actual] == [Decimal(str(r["actual"])) for r in answer]
        assert page.input_value("#f-land") == "DE-NW"
        assert page.input_value("#f-indicator") == "k2"
        page.reload()
        page.wait_for_selector("main[data-ready=true]")
    screenshot(page, "national-portfolio-nw-k2")
    assert_german(page, codes)
    assert violations(page) == []


def test_a_lands_reader_sees_its_land_only(page: Page, national_api: str, codes: set[str]) -> None:
    own = items(national_api, "/agreements", READER)
    assert own and {a["land"] for a in own} == {"DE-NW"}
    open_as(page, national_api, READER)
    assert "land=DE-NW" in page.url
    expect(page.locator("#scope-note")).to_have_text("Ihr Bereich: Nordrhein-Westfalen")
    assert set(shown_agreements(page)) <= {a["agreement_id"] for a in own}
    assert shown_agreements(page)
    screenshot(page, "national-reader-nw-portfolio")
    assert_german(page, codes)


def test_the_tile_map_colours_every_land_and_leads_to_it(
    page: Page, national_api: str, codes: set[str]
) -> None:
    open_as(page, national_api, AUDITOR, "laender")
    tiles = page.locator("#land-map a.tile")
    expect(tiles).to_have_count(16)
    year = page.locator("#map-year").input_value()
    rows = [r for r in items(national_api, "/attainment", level="land", year=year)
            if r["level"] == "land"]  # fmt: skip
    for land in {r["land"] for r in rows}:
        own = [r for r in rows if r["land"] == land and r["status"] != "no_data"]
        assert own, f"{land} has no Land agreement with measured targets"
        good = sum(r["status"] in ("achieved", "on_track") for r in own)
        shown = page.locator(f"#land-map a.tile[data-land={land}] .tile-value")
        assert shown.inner_text().startswith(pct(100 * Decimal(good) / len(own)))
    assert len({r["land"] for r in rows}) == 16
    screenshot(page, "national-laender")
    assert_german(page, codes)

    page.locator("#land-map a.tile[data-land=DE-NW]").click()
    expect(page.locator("main h1")).to_have_text("Nordrhein-Westfalen (DE-NW)")
    page.wait_for_selector("main[data-ready=true]")
    page.wait_for_selector("#land-portfolio-table")
    answer = get(national_api, "/attainment", AUDITOR, land="DE-NW", year=year, limit=120)
    land_targets = [r for r in items(national_api, "/attainment", level="land", land="DE-NW",
                                     year=year) if r["level"] == "land"]  # fmt: skip
    expect(page.locator("#land-targets tr.target-row")).to_have_count(len(land_targets))
    shown = page.locator("#land-portfolio-table tr.target-row")
    assert shown.evaluate_all("rs => rs.map(r => r.dataset.target)") == [
        r["target_id"] for r in answer["items"]
    ]
    expect(page.locator("#page-info")).to_contain_text(f"von {answer['count']}")
    screenshot(page, "national-land-nw")
    assert_german(page, codes)


def test_a_jobcenters_key_figures_stand_in_their_types_band(
    page: Page, national_api: str, codes: set[str]
) -> None:
    k2 = items(national_api, "/key-figures", code="k2", breakdown="total", compare="type")
    latest: dict[str, Any] = {}  # each jobcenter's latest month, as its page states it
    for row in sorted(k2, key=lambda r: r["period"]):
        latest[row["jobcenter_id"]] = row
    chosen = max(latest.values(), key=lambda r: (r["comparison"]["jobcenters"], r["period"]))
    assert chosen["comparison"]["jobcenters"] >= 3, "no comparison type with three jobcenters"
    jobcenter, comparison = chosen["jobcenter_id"], chosen["comparison"]
    open_as(page, national_api, AUDITOR, f"kennzahlen/{jobcenter}")
    card = page.locator("section.kf-card[data-code=k2]")
    latest_value = card.locator(".facts .latest")
    assert Decimal(latest_value.get_attribute("data-value") or "") == Decimal(str(chosen["value"]))
    assert card.locator(".comparison .rank").inner_text() == (
        f"{comparison['rank']} von {comparison['jobcenters']}"
    )
    assert card.locator(".comparison b").first.inner_text() == pct(comparison["median"])
    band = card.locator("svg.series path.quartile-band")
    expect(band).to_have_count(1)
    assert "Quartile" in (band.locator("title").text_content() or "")
    own = [r for r in k2 if r["jobcenter_id"] == jobcenter]
    assert card.locator("svg.series circle.dot").count() == len(own)
    screenshot(page, "national-kennzahlen")
    assert_german(page, codes)


def test_comparison_fetches_only_the_land_and_year_it_shows(
    page: Page, national_api: str, codes: set[str]
) -> None:
    asked: list[str] = []

    def note(request: Request) -> None:
        if "/attainment" in request.url or "/agreements" in request.url:
            asked.append(request.url)

    page.on("request", note)
    year = max(a["year"] for a in items(national_api, "/agreements", READER))
    open_as(page, national_api, READER, "compare")
    assert page.input_value("#c-land") == "DE-NW"
    assert page.input_value("#c-year") == str(year)
    assert page.input_value("#c-indicator") == "integrations"
    answer = [r for r in items(national_api, "/attainment", READER, land="DE-NW", year=year,
                               indicator="integrations") if r["breakdown"] == "total"]  # fmt: skip
    bars = page.locator("#compare-svg rect.bar")
    expect(bars).to_have_count(len(answer))
    for row in answer:
        bar = page.locator(f'#compare-svg rect.bar[data-jobcenter="{row["jobcenter_id"]}"]')
        assert Decimal(bar.get_attribute("data-value") or "") == Decimal(str(row["attainment_pct"]))
    assert asked and all("land=DE-NW" in url for url in asked)
    assert all(f"year={year}" in url for url in asked if "/attainment" in url)
    screenshot(page, "national-vergleich-nw")
    assert_german(page, codes)

    asked.clear()
    open_as(page, national_api, AUDITOR, "compare")
    page.select_option("#c-land", "DE-BY")
    bavaria = [r for r in items(national_api, "/attainment", land="DE-BY", year=year,
                                indicator="integrations") if r["breakdown"] == "total"]  # fmt: skip
    expect(page.locator("#compare-svg rect.bar")).to_have_count(len(bavaria))
    assert "land=DE-BY" in page.url
    attainment = [url for url in asked if "/attainment" in url]
    assert attainment and all("land=DE-" in url and "year=" in url for url in attainment)
    assert violations(page) == []


def test_chart_text_is_readable_on_a_phone(page: Page, national_api: str) -> None:
    agreement = next(a for a in items(national_api, "/agreements") if a["level"] == "jobcenter")
    page.set_viewport_size({"width": 390, "height": 800})
    routes = [f"agreement/{agreement['agreement_id']}", f"kennzahlen/{agreement['jobcenter_id']}"]
    for route in [*routes, "compare"]:
        open_as(page, national_api, AUDITOR, route)
        page.wait_for_selector("svg text")
        assert smallest_chart_text(page) >= MIN_TEXT_PX, route
        assert violations(page) == [], route  # a chart box that scrolls is reachable by keyboard
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
            route
        )  # no sideways page
    page.set_viewport_size({"width": 1440, "height": 900})
    assert smallest_chart_text(page) >= MIN_TEXT_PX - 1  # 11 px on a laptop
