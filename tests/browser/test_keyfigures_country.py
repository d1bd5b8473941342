"""Key figures and the country in Chromium: a jobcenter's, a Land's and Germany's § 48a key
figures as the API answers them (with the Land, Germany and the comparison type), the sortable
table of a Land's or a type's jobcenters, the tile map of the Länder with a link to each Land,
the Land page with its Land agreement and its jobcenters' targets, each reader in its scope.
Screenshots at 1440 px and 390 px."""

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import bearer, screenshot
from tests.browser.screen import assert_german, get, open_as, slugs, violations

pytestmark = pytest.mark.browser

LANDS = {
    "DE-BW": "Baden-Württemberg", "DE-BY": "Bayern", "DE-BE": "Berlin", "DE-BB": "Brandenburg",
    "DE-HB": "Bremen", "DE-HH": "Hamburg", "DE-HE": "Hessen", "DE-MV": "Mecklenburg-Vorpommern",
    "DE-NI": "Niedersachsen", "DE-NW": "Nordrhein-Westfalen", "DE-RP": "Rheinland-Pfalz",
    "DE-SL": "Saarland", "DE-SN": "Sachsen", "DE-ST": "Sachsen-Anhalt",
    "DE-SH": "Schleswig-Holstein", "DE-TH": "Thüringen",
}  # fmt: skip
MONTH = "2022-09"
LLU = {"06435": (2410000, 2350000), "05162": (5120000, 5200000)}
"""Benefits for living costs of the Main-Kinzig-Kreis (Hessen, type Ib) and the Rhein-Kreis
Neuss (NRW, type IIa) a year apart, so that K1 of September 2022 has three jobcenters: two of
them in Hessen and in type Ib, to sort and rank."""


def pct(value: Any) -> str:
    """A percentage as the dashboard writes it: "-2,49 %"."""
    text = f"{Decimal(str(value)):,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} %"


def all_items(api: str, path: str, role: str = "auditor", **params: Any) -> list[Any]:
    items: list[Any] = get(api, path, role, limit=1000, **params)["items"]
    return items


@pytest.fixture(scope="module")
def k1_of_three(api: str) -> Iterator[None]:
    """K1 of September 2022 for two more jobcenters, sent by a source like any figure."""
    envelopes = [
        {"message_id": f"kf-{jc}-{period}", "source": "browser-test",
         "type": "MonthlyFigureReported", "schema_version": 1,
         "occurred_at": "2022-12-20T08:00:00Z",
         "data": {"jobcenter_id": jc, "indicator": "llu_eur", "period": period,
                  "breakdown": "total", "value": value, "status": "final"}}
        for jc, values in LLU.items()
        for period, value in zip(("2021-09", MONTH), values, strict=True)
    ]  # fmt: skip
    httpx.post(
        f"{api}/ingest", json=envelopes, headers=bearer("source"), timeout=10
    ).raise_for_status()
    deadline = time.monotonic() + 60
    while len(all_items(api, "/key-figures", code="k1", period=MONTH)) < 3:
        assert time.monotonic() < deadline, "the extra key figures were not projected"
        time.sleep(0.2)
    yield


@pytest.mark.parametrize("role", ["auditor", "reader-he", "reader-odw"])
def test_a_jobcenters_key_figures_are_the_apis(
    page: Page, api: str, role: str, k1_of_three: None
) -> None:
    open_as(page, api, role, "kennzahlen/06437")
    rows = all_items(api, "/key-figures", role, jobcenter_id="06437", breakdown="total",
                     compare="type")  # fmt: skip
    land = all_items(api, "/key-figures", role, level="land", land="DE-HE", breakdown="total")
    germany = all_items(api, "/key-figures", role, level="germany", breakdown="total")
    codes = sorted({r["code"] for r in rows})
    assert codes, "the demo has key figures of the Odenwaldkreis"
    assert page.locator("section.kf-card").evaluate_all(
        "cards => cards.map(c => c.dataset.code)"
    ) == [c for c in ["k1", "k1e2", "k2", "k3"] if c in codes]  # fmt: skip
    for code in codes:
        latest = max((r for r in rows if r["code"] == code), key=lambda r: r["period"])
        card = page.locator(f"section.kf-card[data-code={code}]")
        value = card.locator(".facts .latest")
        assert Decimal(value.get_attribute("data-value") or "") == Decimal(str(latest["value"]))
        assert value.inner_text() == pct(latest["value"])
        comparison = latest["comparison"]
        assert card.locator(".comparison .rank").inner_text() == (
            f"{comparison['rank']} von {comparison['jobcenters']}"
        )
        assert card.locator(".comparison b").first.inner_text() == pct(comparison["median"])
        for series, answer in (("land", land), ("germany", germany)):
            same = [r for r in answer if r["code"] == code and r["period"] == latest["period"]]
            shown = card.locator(f".facts b[data-series={series}]")
            if same:
                assert shown.inner_text() == pct(same[0]["value"])
            else:
                expect(shown).to_have_count(0)
        chart = card.locator("svg.series")
        assert "Prozent" in (chart.get_attribute("aria-label") or "")
        assert chart.locator("title").first.text_content()
        assert chart.locator("circle.dot").count() == len([r for r in rows if r["code"] == code])
    if role == "reader-odw":
        expect(page.locator("#kf-no-land")).to_be_visible()
    screenshot(page, f"kf-{role}-jobcenter")
    assert_german(page, slugs(api))


def column_values(page: Page, selector: str) -> list[str]:
    return [
        str(v)
        for v in page.locator(f"#kf-jobcenters tbody {selector}").evaluate_all(
            "cells => cells.map(c => c.dataset.value ?? c.dataset.rank ?? c.dataset.row)"
        )
    ]


def test_a_lands_jobcenters_sort_by_each_column(page: Page, api: str, k1_of_three: None) -> None:
    open_as(page, api, "auditor", f"kennzahlen/DE-HE?code=k1&monat={MONTH}")
    answer = all_items(api, "/key-figures", land="DE-HE", code="k1", period=MONTH,
                       breakdown="total", compare="type")  # fmt: skip
    assert sorted(column_values(page, "tr")) == sorted(r["jobcenter_id"] for r in answer)
    by_rank = sorted(answer, key=lambda r: r["comparison"]["rank"])
    assert column_values(page, "tr") == [r["jobcenter_id"] for r in by_rank]  # rank first
    assert column_values(page, "td.rank") == [str(r["comparison"]["rank"]) for r in by_rank]
    value = page.locator("#kf-jobcenters th:has(button[data-sort=value])")
    value.locator("button").click()
    assert value.get_attribute("aria-sort") == "ascending"
    ascending = sorted(answer, key=lambda r: r["value"])
    assert column_values(page, "td.value") == [str(r["value"]) for r in ascending]
    page.keyboard.press("Enter")  # the sort button keeps the focus: the keyboard sorts too
    assert value.get_attribute("aria-sort") == "descending"
    assert column_values(page, "td.value") == [str(r["value"]) for r in reversed(ascending)]
    assert page.locator("#kf-jobcenters th[aria-sort=none]").count() == 4
    assert "sort=value&richtung=descending" in page.url
    page.reload()
    page.wait_for_selector("main[data-ready=true]")
    page.wait_for_selector("#kf-jobcenters")
    assert column_values(page, "td.value") == [str(r["value"]) for r in reversed(ascending)]
    screenshot(page, "kf-auditor-land")
    assert_german(page, slugs(api))


def test_germany_lists_the_jobcenters_of_a_type(page: Page, api: str, k1_of_three: None) -> None:
    open_as(page, api, "auditor", f"kennzahlen?code=k1&monat={MONTH}&typ=Ib")
    page.wait_for_selector("#kf-jobcenters")
    answer = all_items(api, "/key-figures", code="k1", period=MONTH, breakdown="total",
                       compare="type")  # fmt: skip
    of_type = {r["jobcenter_id"] for r in answer if r["comparison"]["type_code"] == "Ib"}
    assert len(of_type) == 2 and len(answer) == 3
    assert set(column_values(page, "tr")) == of_type
    page.select_option("#kf-type", "IIa")
    page.wait_for_selector("#kf-jobcenters tbody tr >> nth=0")
    expect(page.locator("#kf-jobcenters tbody tr")).to_have_count(len(answer) - len(of_type))
    screenshot(page, "kf-auditor-germany")
    assert_german(page, slugs(api))


def test_the_tile_map_shows_every_land_and_leads_to_it(page: Page, api: str) -> None:
    open_as(page, api, "auditor", "laender")
    tiles = page.locator("#land-map a.tile")
    assert sorted(tiles.evaluate_all("ts => ts.map(t => t.dataset.land)")) == sorted(LANDS)
    for land in LANDS:
        tile = page.locator(f"#land-map a.tile[data-land={land}]")
        assert tile.get_attribute("href") == f"#/laender/{land}"
        assert land in tile.inner_text()
        assert LANDS[land] in (tile.text_content() or "")  # its German name, also on a phone
    year = page.locator("#map-year").input_value() if page.locator("#map-year").count() else ""
    rows = [r for r in all_items(api, "/attainment", level="land") if r.get("level") == "land"]
    for land in LANDS:
        own = [r for r in rows if r["land"] == land and str(r["year"]) == year
               and r["status"] != "no_data"]  # fmt: skip
        shown = page.locator(f"#land-map a.tile[data-land={land}] .tile-value")
        if own:
            good = sum(r["status"] in ("achieved", "on_track") for r in own)
            assert shown.inner_text().startswith(pct(100 * Decimal(good) / len(own)))
        else:
            assert shown.inner_text() == "keine Werte"
    expect(page.locator("#map-legend")).to_contain_text("erreicht oder auf Kurs")
    screenshot(page, "laender-auditor-map")
    assert_german(page, slugs(api))

    page.select_option("#map-colour", "k1")
    page.wait_for_selector("#map-legend >> text=K1")
    lands = all_items(api, "/key-figures", level="land", code="k1", breakdown="total")
    latest = max(r["period"] for r in lands)
    for r in lands:
        if r["period"] == latest:
            tile = page.locator(f"#land-map a.tile[data-land={r['land']}] .tile-value")
            assert tile.inner_text() == pct(r["value"])
    assert "farbe=k1" in page.url
    page.locator("#land-map a.tile[data-land=DE-HE]").click()
    expect(page.locator("main h1")).to_have_text("Hessen (DE-HE)")
    page.wait_for_selector("main[data-ready=true]")
    screenshot(page, "laender-auditor-hessen")
    assert_german(page, slugs(api))


def test_a_lands_page_pages_its_jobcenters_targets(page: Page, api: str) -> None:
    open_as(page, api, "auditor", "laender/DE-HE?jahr=2021")
    answer = get(api, "/attainment", land="DE-HE", year=2021, limit=120)
    rows = page.locator("#land-portfolio-table tr.target-row")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.target)") == [
        r["target_id"] for r in answer["items"]
    ]
    actual = rows.locator("td.actual").evaluate_all("cs => cs.map(c => c.dataset.value)")
    assert [Decimal(v) for v in actual] == [Decimal(str(r["actual"])) for r in answer["items"]]
    expect(page.locator("#page-info")).to_contain_text(f"von {answer['count']}")
    page.select_option("#land-status", "missed")
    assert "status=missed" in page.url
    missed = get(api, "/attainment", land="DE-HE", year=2021, status="missed")["count"]
    expect(page.locator("#land-portfolio-table tr.target-row")).to_have_count(missed)
    assert_german(page, slugs(api))


def test_each_reader_lands_in_its_scope(page: Page, api: str) -> None:
    open_as(page, api, "reader-he", "laender")
    assert page.url.endswith("#/laender/DE-HE?jahr=2022") or "#/laender/DE-HE" in page.url
    expect(page.locator("main h1")).to_have_text("Hessen (DE-HE)")
    screenshot(page, "laender-reader-he")
    assert_german(page, slugs(api))
    open_as(page, api, "reader-he", "kennzahlen")
    assert "#/kennzahlen/DE-HE" in page.url
    screenshot(page, "kf-reader-he-land")
    open_as(page, api, "reader-odw", "kennzahlen")
    assert "#/kennzahlen/06437" in page.url
    open_as(page, api, "reader-nw", "laender/DE-HE")
    expect(page.locator("#land-empty")).to_have_text("Hessen liegt außerhalb Ihres Bereichs.")
    open_as(page, api, "reader-nw", "kennzahlen/DE-HE")
    expect(page.locator("#kf-empty")).to_have_text("Hessen liegt außerhalb Ihres Bereichs.")
    screenshot(page, "kf-reader-nw-outside")
    assert_german(page, slugs(api))


@pytest.mark.parametrize(
    ("role", "routes"),
    [("auditor", ["laender", "laender/DE-HE", "kennzahlen", "kennzahlen/DE-HE",
                  "kennzahlen/06437"]),
     ("reader-he", ["laender", "kennzahlen", "kennzahlen/06435"]),
     ("reader-odw", ["kennzahlen", "laender"])],
)  # fmt: skip
def test_no_serious_accessibility_violation(
    page: Page, api: str, role: str, routes: list[str]
) -> None:
    problems = {}
    for route in routes:
        open_as(page, api, role, route)
        if found := violations(page):
            problems[route] = found
    assert problems == {}
