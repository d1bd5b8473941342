"""Every dashboard page against the API's own answers: the numbers shown are the API's, charts
are drawn, the time-travel control changes the figures. Screenshots of every page are saved."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request

from events.envelope import RejectionCode
from tests.browser.conftest import TOKENS, bearer, screenshot

pytestmark = pytest.mark.browser

STATUS = {"achieved": "erreicht", "missed": "verfehlt", "on_track": "auf Kurs",
          "at_risk": "gefährdet", "no_data": "keine Daten"}  # fmt: skip
PLAN_BASIS = {"agreed_plan": "Soll: vereinbarter Monatsplan",
              "prior_year_profile": "Soll: Verlauf des Vorjahres",
              "linear": "Soll: gleichmäßig über das Jahr"}  # fmt: skip
NONE = "\u2013"
"""What the dashboard shows for a missing value (an en dash)."""


def get(api: str, path: str, **params: Any) -> Any:
    """The API's JSON answer."""
    response = httpx.get(f"{api}{path}", params=params, headers=bearer(), timeout=10)
    response.raise_for_status()
    return response.json()


def german(value: float | None, decimals: int = 2, fixed: bool = False) -> str:
    """A number as the dashboard shows it (de-DE: 2.035 and 104,06)."""
    if value is None:
        return NONE
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}" if fixed else f"{rounded.normalize():,f}"
    if not fixed and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(value: float | None) -> str:
    """An attainment as the dashboard shows it."""
    return NONE if value is None else german(value, fixed=True) + " %"


def same(shown: str | None, value: float | None) -> bool:
    """Whether a `data-value` attribute holds `value`."""
    if value is None:
        return shown in ("", None)
    return shown is not None and float(shown) == float(value)


def open_page(page: Page, api: str, route: str, role: str = "auditor") -> None:
    """Open a dashboard page with `role`'s token and wait until it has rendered."""
    page.goto(f"{api}/dashboard/?token={TOKENS[role]}#/{route}")
    page.wait_for_selector("main[data-ready=true]")


def test_portfolio_shows_the_apis_attainment_for_every_target(page: Page, api: str) -> None:
    rows = get(api, "/attainment", limit=1000)["items"]
    open_page(page, api, "portfolio")
    screenshot(page, "01-portfolio")

    shown = page.locator("tr.target-row")
    assert shown.count() == len(rows)
    for row in rows:
        line = page.locator(
            f'tr.target-row[data-agreement="{row["agreement_id"]}"][data-target="{row["target_id"]}"]'
        )
        for cls, field in (("target-value", "target_value"), ("actual", "actual"),
                           ("forecast", "forecast"), ("attainment", "attainment_pct")):  # fmt: skip
            assert same(line.locator(f"td.{cls}").get_attribute("data-value"), row[field])
        assert line.locator("td.attainment").inner_text() == percent(row["attainment_pct"])
        assert line.locator(".status").inner_text() == STATUS[row["status"]]
    odw = 'tr.target-row[data-agreement="odw-2021"]'
    integrations = page.locator(f'{odw}[data-target="integrations-total"]')
    assert integrations.locator("td.attainment").inner_text() == "104,06 %"
    assert integrations.locator(".status").inner_text() == "erreicht"
    ltb = page.locator(f'{odw}[data-target="ltb-total"]')
    assert (ltb.locator("td.actual").inner_text(), ltb.locator("td.target-value").inner_text()) == (
        "2.035", "2.030")  # fmt: skip
    assert ltb.locator(".status").inner_text() == "verfehlt"
    assert page.locator("svg.mini-bar").count() == len(rows)


def test_portfolio_filters_show_the_apis_rows(page: Page, api: str) -> None:
    missed = get(api, "/attainment", status="missed", year=2021)["items"]
    open_page(page, api, "portfolio")

    page.select_option("#f-year", "2021")
    page.select_option("#f-status", "missed")
    count = len(missed)
    page.wait_for_function(f"document.querySelectorAll('tr.target-row').length === {count}")
    screenshot(page, "02-portfolio-filtered")

    shown = page.locator("tr.target-row")
    assert [shown.nth(i).get_attribute("data-target") for i in range(shown.count())] == [
        row["target_id"] for row in missed
    ]
    assert "status=missed" in page.url and "year=2021" in page.url  # the filters are in the URL
    page.reload()
    page.wait_for_selector("main[data-ready=true]")
    assert page.locator("tr.target-row").count() == count
    assert page.input_value("#f-status") == "missed"


def test_agreement_draws_each_targets_trajectory(page: Page, api: str) -> None:
    result = get(api, "/agreements/odw-2022/attainment")
    open_page(page, api, "agreement/odw-2022")
    screenshot(page, "03-agreement-odw-2022")

    cards = page.locator(".target-card")
    assert cards.count() == len(result["targets"])
    for target in result["targets"]:
        card = page.locator(f'.target-card[data-target="{target["target_id"]}"]')
        assert card.locator("b.attainment").inner_text() == percent(target["attainment_pct"])
        assert same(card.locator("b.actual").get_attribute("data-value"), target["actual"])
        assert same(card.locator("b.forecast").get_attribute("data-value"), target["forecast"])
        assert card.locator("svg.trajectory path.actual").count() == 1
        figures = [
            f for f in get(api, "/figures", jobcenter_id="06437", indicator=target["indicator"],
                           year=2022, limit=1000)["items"]
            if f["breakdown"] == target["breakdown"]
        ]  # fmt: skip
        assert card.locator("svg circle.point").count() == len(figures)
        corrected = sum(1 for f in figures if f["revision_count"] > 0)
        assert card.locator("svg circle.point.corrected").count() == corrected
        assert card.locator("svg line.forecast").count() == (0 if target["final"] else 1)
    sums = [t for t in result["targets"] if t["aggregation"] == "sum"]
    assert sums and all(len(t["plan_path"]) == 12 for t in sums)
    for target in sums:  # the Soll is the answer's plan path, labelled by its basis
        card = page.locator(f'.target-card[data-target="{target["target_id"]}"]')
        assert (
            card.locator("svg path.plan-path").get_attribute("data-basis") == target["plan_basis"]
        )
        assert card.locator(".plan-basis").inner_text() == PLAN_BASIS[target["plan_basis"]]


def test_closed_agreement_shows_final_results_and_dialogs(page: Page, api: str) -> None:
    detail = get(api, "/agreements/odw-2021")
    open_page(page, api, "agreement/odw-2021")
    screenshot(page, "04-agreement-odw-2021")

    card = page.locator('.target-card[data-target="integrations-total"]')
    assert card.locator("b.attainment").inner_text() == "104,06 %"
    assert card.locator("b.actual").inner_text() == "718"
    assert page.locator("#dialogs li").count() == len(detail["dialogs"])


def test_agreement_with_budget_lines_goals_and_the_lands_support(page: Page, api: str) -> None:
    detail = get(api, "/agreements/mkk-2018")
    open_page(page, api, "agreement/mkk-2018")
    screenshot(page, "05-agreement-mkk-2018")

    for line in detail["budget_lines"]:
        row = page.locator(f'#budget tr[data-budget-line="{line["budget_line"]}"]')
        assert same(row.locator("td.current").get_attribute("data-value"), line["current"])
        assert row.locator("li.deviation").count() == len(line["deviations"])
    assert "-18.500 €" in page.locator("#budget").inner_text()
    assert page.locator("#goals .goal").count() == len(detail["goals"])
    assert "Haushaltsmittel von 1.289.900 Euro" in page.locator("#goals").inner_text()


def test_a_land_agreement_names_its_level_and_members(page: Page, api: str) -> None:
    result = get(api, "/agreements/he-zkt-2022/attainment")
    detail = get(api, "/agreements/he-zkt-2022")
    open_page(page, api, "agreement/he-zkt-2022")
    screenshot(page, "05b-agreement-he-zkt-2022")

    facts = page.locator("#agreement-facts").inner_text()
    assert "Landesebene (Summe der Mitglieder)" in facts
    assert all(member["name"] in facts for member in detail["members"])
    assert page.locator(".target-card").count() == len(result["targets"]) == 2
    for target in result["targets"]:
        card = page.locator(f'.target-card[data-target="{target["target_id"]}"]')
        assert card.locator("b.attainment").inner_text() == percent(target["attainment_pct"])


def test_time_travel_control_changes_the_figures(page: Page, api: str) -> None:
    head = get(api, "/health")["position"]
    changes = get(api, "/agreements/odw-2021/changes", from_position=0)["items"]
    earlier = next(c["position"] for c in changes if c["target_id"] == "ltb-total") + 5
    then = get(api, "/agreements/odw-2021/attainment", as_of_position=earlier)
    since = get(api, "/agreements/odw-2021/changes", from_position=earlier)["items"]
    open_page(page, api, "timetravel/odw-2021")
    page.wait_for_selector(f'#tt-answer table[data-position="{head}"]')
    now_text = page.locator("#tt-answer").inner_text()

    page.fill("#tt-position", str(earlier))
    page.dispatch_event("#tt-position", "change")
    page.wait_for_selector(f'#tt-answer table[data-position="{earlier}"]')
    page.wait_for_selector("#tt-change-table")
    screenshot(page, "06-time-travel")

    assert page.locator("#tt-answer").inner_text() != now_text
    for target in then["targets"]:
        row = page.locator(f'#tt-answer tr[data-target="{target["target_id"]}"]')
        assert same(row.locator("td.actual").get_attribute("data-value"), target["actual"])
        assert row.locator("td.attainment").inner_text() == percent(target["attainment_pct"])
        assert same(row.locator("td.months").get_attribute("data-value"),
                    target["months_reported"])  # fmt: skip
    assert page.locator("#tt-change-table tr.change").count() == len(since)
    assert page.locator("#tt-heading").inner_text() == f"Stand bei Position {earlier}"


def test_comparison_draws_sortable_bars_from_the_api(page: Page, api: str) -> None:
    answer = get(api, "/attainment", land="DE-HE", year=2022, indicator="integrations")
    rows = [row for row in answer["items"] if row["breakdown"] == "total"]
    open_page(page, api, "compare")
    page.select_option("#c-land", "DE-HE")
    page.select_option("#c-year", "2022")
    page.select_option("#c-indicator", "integrations")
    page.wait_for_selector("#compare-svg")
    screenshot(page, "07-comparison")

    bars = page.locator("#compare-svg rect.bar")
    assert bars.count() == len(rows)
    for row in rows:
        bar = page.locator(f'#compare-svg rect.bar[data-jobcenter="{row["jobcenter_id"]}"]')
        assert same(bar.get_attribute("data-value"), row["attainment_pct"])
    page.select_option("#c-sort", "name")
    page.wait_for_selector("#compare-svg")
    assert page.locator("#compare-svg rect.bar").count() == len(rows)


def test_rejections_list_code_reason_and_source(page: Page, api: str) -> None:
    rejections = get(api, "/rejections", limit=1000)["items"]
    open_page(page, api, "rejections")
    screenshot(page, "08-rejections")

    rows = page.locator("tr.rejection")
    assert rows.count() == len(rejections) >= 2
    for index, rejection in enumerate(rejections):
        row = rows.nth(index)
        assert row.get_attribute("data-code") == rejection["code"]
        assert row.locator(".code-name").inner_text() != rejection["code"]  # a German name
        assert row.locator(".detail").text_content() == rejection["reason"]
        assert row.locator("summary").inner_text() == "Technische Meldung (englisch)"
    assert "browser-test" in page.locator("#rejections").inner_text()
    named = page.evaluate("import('/dashboard/de.js').then((de) => Object.keys(de.REJECTION))")
    assert sorted(named) == sorted(code.value for code in RejectionCode)  # each in German


def test_a_token_from_the_url_is_kept_and_sent_as_bearer(page: Page, api: str) -> None:
    sent: list[str | None] = []

    def note(request: Request) -> None:
        if "/dashboard/" not in request.url:
            sent.append(request.headers.get("authorization"))

    page.on("request", note)
    page.goto(f"{api}/dashboard/?token=secret-1#/portfolio")
    page.wait_for_selector("main[data-ready=true]")
    page.goto(f"{api}/dashboard/#/rejections")  # same tab: the token stays in sessionStorage
    page.wait_for_selector("main[data-ready=true]")

    assert "token=" not in page.url
    assert page.evaluate("sessionStorage.getItem('zs-token')") == "secret-1"
    assert sent and set(sent) == {"Bearer secret-1"}


def test_a_reader_of_one_land_sees_no_other_land(page: Page, api: str) -> None:
    everything = get(api, "/agreements", limit=1000)["items"]
    outside = [a["agreement_id"] for a in everything if a["land"] != "DE-HE"]
    open_page(page, api, "portfolio", role="reader-he")
    shown = page.locator("tr.target-row")
    lands = {shown.nth(i).get_attribute("data-agreement") for i in range(shown.count())}
    open_page(page, api, f"agreement/{outside[0]}", role="reader-he")
    screenshot(page, "09-agreement-outside-the-readers-land")

    assert outside, "the demo has agreements outside Hesse"
    assert lands and not lands & set(outside)
    assert page.locator('main .error[data-code="not_found"]').count() == 1
    assert "außerhalb Ihres Bereichs" in page.locator("main").inner_text()
