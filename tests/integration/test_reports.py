"""Report files (docs/reports.md) opened as a reader would: the PDF's text (pypdf) and the
workbook's cells (openpyxl) hold the numbers the API answers for the same agreement and
position; a reader outside the scope gets no file; a report as known before a correction
differs from today's."""

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from openpyxl.workbook import Workbook
from pypdf import PdfReader

from events.anchor import event_at
from events.store import EventStore
from services.cli.demo import demo_envelopes
from services.pipeline.ingest import Ingestor
from services.reports import german
from tests.factories import envelope, figure_envelope
from tests.integration.helpers import api_app, api_client, ignore, record, token
from tests.integration.processes import run_zs

ODW, MKK, RKN, LAND_AGREEMENT = "odw-2022", "mkk-2018", "rkn-2012", "he-zkt-2022"


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """The demo data recorded and projected."""
    await record(store, demo_envelopes())
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


async def report_file(
    client: httpx.AsyncClient, agreement_id: str, file_format: str, **params: Any
) -> httpx.Response:
    response = await client.get(
        f"/agreements/{agreement_id}/report", params={"format": file_format, **params}
    )
    assert response.status_code == 200, response.text
    return response


async def answer(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def workbook(response: httpx.Response) -> Workbook:
    return openpyxl.load_workbook(io.BytesIO(response.content))


def rows(book: Workbook, sheet: str) -> list[dict[str, Any]]:
    """A sheet's rows as dicts by its header."""
    header, *body = book[sheet].iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in body]


def pdf_text(response: httpx.Response) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


async def test_the_workbook_holds_the_api_numbers(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    response = await report_file(client, ODW, "xlsx")
    position = int(response.headers["X-Position"])
    api = await answer(client, f"/agreements/{ODW}/attainment", as_of_position=position)
    now = await answer(client, f"/agreements/{ODW}/attainment")
    detail = await answer(client, f"/agreements/{ODW}")
    book = workbook(response)

    assert now["targets"] == api["targets"]  # the view and the replay agree
    targets = {row["Ziel-ID"]: row for row in rows(book, "Ziele")}
    assert list(targets) == [t["target_id"] for t in api["targets"]]
    for target in api["targets"]:
        row = targets[target["target_id"]]
        assert (row["Zielwert"], row["Ist"], row["Monate gemeldet"], row["Soll bis dato"],
                row["Prognose"], row["Zielerreichung (%)"], row["Status"]) == (
            target["target_value"], target["actual"], target["months_reported"],
            target["expected_to_date"], target["forecast"], target["attainment_pct"],
            german.STATUS[target["status"]],
        )  # fmt: skip
    trajectory = rows(book, "Verlauf")
    for target in api["targets"]:
        plan = [row[f"{target['target_id']} Soll"] for row in trajectory]
        actual = [row[f"{target['target_id']} Ist"] for row in trajectory]
        assert plan == (target["plan_path"] or [None] * 12)
        assert actual[target["months_reported"] - 1] == target["actual"]
    overview = {row["Angabe"]: row["Wert"] for row in rows(book, "Übersicht")}
    head = await event_at(store, position)
    assert head is not None
    assert overview["Position im Ereignisprotokoll"] == position
    assert overview["Kettenhash an dieser Position"] == head.hash
    assert overview["Partner"] == "; ".join(detail["parties"])
    goals = rows(book, "Qualitative Ziele")
    assert [(g["Abschnitt"], g["Unterstützung des Landes"] or "") for g in goals] == [
        (g["section"], "\n".join(g["state_support"])) for g in detail["goals"]
    ]
    assert [d["Ergebnis"] for d in rows(book, "Zieldialoge")] == [
        d["summary"] for d in detail["dialogs"]
    ]
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="zielerreichung-{ODW}-{position}.xlsx"; '
        f"filename*=UTF-8''zielerreichung-{ODW}-{position}.xlsx"
    )


async def test_the_budgets_in_the_workbook_are_the_api_budgets(client: httpx.AsyncClient) -> None:
    book = workbook(await report_file(client, MKK, "xlsx"))
    detail = await answer(client, f"/agreements/{MKK}")

    assert [
        (r["Haushaltslinie"], r["Zugewiesen"], r["Aktuell"]) for r in rows(book, "Haushalt")
    ] == [(b["budget_line"], b["allocated"], b["current"]) for b in detail["budget_lines"]]
    assert [(r["Haushaltslinie"], r["Monat"], r["Betrag"], r["Grund"])
            for r in rows(book, "Abweichungen")] == [
        (b["budget_line"], d["period"], d["amount_eur"], d["reason"])
        for b in detail["budget_lines"] for d in b["deviations"]
    ]  # fmt: skip


def contains_run(lines: list[str], run: list[str]) -> bool:
    """Whether `run` occurs as consecutive lines (a table row as the PDF's text gives it)."""
    return any(lines[n : n + len(run)] == run for n in range(len(lines)))


async def test_the_pdf_text_holds_the_api_numbers(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    response = await report_file(client, ODW, "pdf")
    position = int(response.headers["X-Position"])
    api = await answer(client, f"/agreements/{ODW}/attainment", as_of_position=position)
    text = pdf_text(response)
    lines = [line.strip() for line in text.splitlines()]
    head = await event_at(store, position)

    assert response.headers["Content-Type"] == "application/pdf"
    assert head is not None and head.hash in text and f"Position {position}" in text
    for target in api["targets"]:
        unit = target["unit"]
        shown = {f: german.with_unit(target[f], unit)
                 for f in ("target_value", "actual", "expected_to_date", "forecast")}  # fmt: skip
        row = [shown["target_value"], shown["actual"], str(target["months_reported"]),
               shown["expected_to_date"], shown["forecast"],
               german.percent(target["attainment_pct"]),
               german.STATUS[target["status"]]]  # fmt: skip
        assert contains_run(lines, row), (target["target_id"], row)
        plan = [german.with_unit(value, unit) for value in target["plan_path"]]
        assert contains_run(lines, ["Soll", *plan]), (target["target_id"], plan)
    assert "Hessisches Ministerium für Soziales und Integration (HMSI); Odenwaldkreis" in text
    assert "Integrationen (insgesamt)" in text and "Korrekturen" in text


async def test_a_report_as_known_before_a_correction_differs_from_todays(
    client: httpx.AsyncClient,
) -> None:
    history = await answer(client, f"/agreements/{ODW}/history", limit=1000)
    correction = next(
        e for e in history["items"]
        if e["type"] == "MonthlyFigureCorrected" and e["data"]["period"] == "2022-04"
        and (e["data"]["indicator"], e["data"]["breakdown"]) == ("integrations", "total")
    )  # fmt: skip
    before = correction["position"] - 1
    then = workbook(await report_file(client, ODW, "xlsx", as_of_position=before))
    now = workbook(await report_file(client, ODW, "xlsx"))
    api_then = await answer(client, f"/agreements/{ODW}/attainment", as_of_position=before)
    api_now = await answer(client, f"/agreements/{ODW}/attainment")

    def actual(book: Workbook) -> Any:
        return next(r["Ist"] for r in rows(book, "Ziele") if r["Ziel-ID"] == "integrations-total")

    def corrected(book: Workbook) -> list[tuple[Any, ...]]:
        return [(r["Kennzahl"], r["Aufschlüsselung"], r["Monat"], r["Bisher"], r["Neu"])
                for r in rows(book, "Korrekturen") if r["Monat"] == "2022-04"]  # fmt: skip

    assert actual(then) == api_then["targets"][0]["actual"]
    assert actual(now) == api_now["targets"][0]["actual"]
    assert actual(then) != actual(now)
    assert corrected(then) == []
    assert ("integrations", "total", "2022-04", 62, 66) in corrected(now)


async def test_since_lists_only_the_corrections_published_from_then(
    client: httpx.AsyncClient,
) -> None:
    book = workbook(await report_file(client, ODW, "xlsx", since="2022-08-01T00:00:00Z"))
    everything = workbook(await report_file(client, ODW, "xlsx"))

    assert {r["Monat"] for r in rows(book, "Korrekturen")} == {"2022-04"}
    assert {r["Monat"] for r in rows(everything, "Korrekturen")} > {"2022-04", "2021-03"}


OTHER_LAND = {"Authorization": f"Bearer {token('reader', land='DE-BY')}"}
HESSE = {"Authorization": f"Bearer {token('reader', land='DE-HE')}"}


@pytest.mark.parametrize("file_format", ["pdf", "xlsx"])
async def test_a_reader_of_another_land_gets_no_file(
    client: httpx.AsyncClient, file_format: str
) -> None:
    paths = [f"/agreements/{ODW}/report?format={file_format}",
             f"/reports/portfolio?land=DE-HE&format={file_format}",
             f"/reports/portfolio?format={file_format}"]  # fmt: skip

    refused = [await client.get(path, headers=OTHER_LAND) for path in paths]
    germany_to_hesse = await client.get(paths[2], headers=HESSE)
    allowed = [await client.get(path, headers=HESSE) for path in paths[:2]]

    assert [r.status_code for r in [*refused, germany_to_hesse]] == [404] * 4
    assert all("Content-Disposition" not in r.headers for r in [*refused, germany_to_hesse])
    assert [r.status_code for r in allowed] == [200, 200]


async def test_the_portfolio_workbook_holds_the_attainment_rows(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/reports/portfolio", params={"land": "DE-HE", "format": "xlsx"},
                                headers=HESSE)  # fmt: skip
    api = {"items": [
        item for level in ("land", "jobcenter")
        for item in (await answer(client, "/attainment", land="DE-HE", level=level,
                                  limit=1000))["items"]
    ]}  # fmt: skip
    api["count"] = len(api["items"])
    pdf = await client.get("/reports/portfolio", params={"land": "DE-HE"}, headers=HESSE)

    assert response.status_code == 200, response.text
    assert [(r["Vereinbarung"], r["Ziel-ID"], r["Zielwert"], r["Ist"], r["Prognose"],
             r["Zielerreichung (%)"], r["Status"]) for r in rows(workbook(response), "Portfolio")
            ] == [(i["agreement_id"], i["target_id"], i["target_value"], i["actual"],
                   i["forecast"], i["attainment_pct"], german.STATUS[i["status"]])
                  for i in api["items"]]  # fmt: skip
    assert {i["level"] for i in api["items"]} == {"land", "jobcenter"}
    assert next(r["Ebene"] for r in rows(workbook(response), "Portfolio")) == "Land"
    text = pdf_text(pdf)
    assert all(item["agreement_id"] in text for item in api["items"])
    assert "Portfolio Hessen" in text


async def test_zs_report_writes_the_file_the_api_gives(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bericht.xlsx"

    result = run_zs("report", ODW, "--format", "xlsx", "--out", str(out),
                    database_url=database_url)  # fmt: skip

    assert result.returncode == 0, result.stderr
    from_cli = openpyxl.load_workbook(out)
    position = next(r["Wert"] for r in rows(from_cli, "Übersicht")
                    if r["Angabe"] == "Position im Ereignisprotokoll")  # fmt: skip
    from_api = workbook(await report_file(client, ODW, "xlsx", as_of_position=position))
    for sheet in ("Ziele", "Verlauf", "Qualitative Ziele", "Haushalt", "Korrekturen"):
        assert rows(from_cli, sheet) == rows(from_api, sheet), sheet
    assert f"position {position}" in result.stdout


async def test_a_pdf_reproduced_at_its_position_is_the_same_file(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    """What an auditor does with a report (docs/reports.md, section 5)."""
    issued = await report_file(client, ODW, "pdf")
    position = issued.headers["X-Position"]
    out = tmp_path / "nachgerechnet.pdf"

    result = run_zs("report", ODW, "--as-of-position", position, "--out", str(out),
                    database_url=database_url)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == issued.content


TYPE_IIB = {"06437": (2000, 1900), "06435": (1000, 1100), "05162": (3000, 2700),
            "09162": (1000, 1010)}  # fmt: skip
"""Long-term recipients in March 2021 and 2022 of four jobcenters of type IIb: K3 -5, +10, -10
and +1 % (tests/integration/test_comparison_types.py computes the statistics by hand)."""


async def test_a_key_figure_target_shows_its_type_position_as_the_api_answers_it(
    store: EventStore,
) -> None:
    await record(store, [
        *(envelope("JobcenterRegistered", {"jobcenter_id": j, "name": j, "land": "DE-HE",
                                           "kind": "gE"}) for j in TYPE_IIB),
        *(figure_envelope(j, period, indicator="ltb_stock", value=value, status="final")
          for j, stocks in TYPE_IIB.items()
          for period, value in zip(("2021-03", "2022-03"), stocks, strict=True)),
        *(envelope("ComparisonTypeAssigned", {
            "jobcenter_id": j, "year": 2022, "type_code": "IIb", "type_name": "Typ IIb",
            "typology": "SGB-II-Typisierung des IAB", "typology_version": "2024"})
          for j in TYPE_IIB),
        envelope("AgreementConcluded", {"agreement_id": "kf", "jobcenter_id": "06437",
                                        "year": 2022, "parties": ["Kreis", "HMSI"]}),
        envelope("TargetSet", {"agreement_id": "kf", "target_id": "ltb-change",
                               "indicator": "k3", "breakdown": "total", "comparator": "at_most",
                               "value": -3, "unit": "percent", "aggregation": "change_of_mean"}),
    ])  # fmt: skip
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        book = workbook(await report_file(client, "kf", "xlsx"))
        text = pdf_text(await report_file(client, "kf", "pdf"))
        api = await answer(client, "/key-figures", compare="type", jobcenter_id="06437",
                           code="k3", year=2022)  # fmt: skip

    latest = api["items"][-1]
    c = latest["comparison"]
    [row] = rows(book, "Vergleichstyp")
    assert (row["Ziel-ID"], row["Monat"], row["Wert"], row["Typ"], row["Jobcenter im Typ"],
            row["Minimum"], row["unteres Quartil"], row["Median"], row["oberes Quartil"],
            row["Maximum"], row["Rang"]) == (
        "ltb-change", latest["period"], latest["value"], c["type_code"], c["jobcenters"],
        c["minimum"], c["lower_quartile"], c["median"], c["upper_quartile"], c["maximum"],
        c["rank"],
    )  # fmt: skip
    assert (c["jobcenters"], c["median"], c["rank"]) == (4, -2, 2)
    assert "Rang 2 von 4 (niedriger ist besser)" in " ".join(text.split())
    assert "Median -2 %" in " ".join(text.split())


async def test_a_time_without_a_zone_is_refused_and_no_file_made(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/agreements/{ODW}/report", params={"since": "2022-08-01"})

    assert response.status_code == 422, response.text
    assert "Content-Disposition" not in response.headers


async def test_a_land_agreement_s_report_holds_its_roll_up(client: httpx.AsyncClient) -> None:
    response = await report_file(client, LAND_AGREEMENT, "xlsx")
    position = int(response.headers["X-Position"])
    api = await answer(client, f"/agreements/{LAND_AGREEMENT}/attainment",
                       as_of_position=position)  # fmt: skip
    detail = await answer(client, f"/agreements/{LAND_AGREEMENT}")
    book = workbook(response)
    text = pdf_text(await report_file(client, LAND_AGREEMENT, "pdf"))

    overview = {row["Angabe"]: row["Wert"] for row in rows(book, "Übersicht")}
    assert (overview["Ebene"], overview["Land"], overview["Jobcenter"]) == ("Land", "Hessen", None)
    assert overview["Mitglieder"] == ", ".join(m["jobcenter_id"] for m in detail["members"])
    assert [(r["Ziel-ID"], r["Ist"], r["Prognose"], r["Zielerreichung (%)"])
            for r in rows(book, "Ziele")] == [
        (t["target_id"], t["actual"], t["forecast"], t["attainment_pct"]) for t in api["targets"]
    ]  # fmt: skip
    assert api["targets"] and all(t["actual"] is not None for t in api["targets"])
    assert "Mitglieder" in text and "Ebene\nLand" in text
