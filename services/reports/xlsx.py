"""A report as an Excel workbook (openpyxl): one sheet per part, German headers, numbers as
number cells (the values the API answers, 2 decimals at most) with German display formats
(Excel shows `#,##0.00` as 1.494.300,00 in a German locale), dates as date cells, and a line
chart of actual against plan per target."""

import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from events.numbers import answer_number
from services.reports import german
from services.reports.content import AgreementReport, PortfolioReport, Provenance

Cell = str | int | float | date | datetime | None
DATE_FORMAT = "DD.MM.YYYY"
TIME_FORMAT = "DD.MM.YYYY HH:MM"
WRAP = 60
"""Texts longer than this (or of several lines) wrap in their cell."""
UNIT_SUFFIX = {"eur": ' "€"', "percent": ' "%"', "count": ""}


def value(number: Decimal | float | None) -> int | float | None:
    """A number as the API's JSON presents it (at most 2 decimals)."""
    return None if number is None else answer_number(Decimal(str(number)))


def _utc(moment: datetime | None) -> datetime | None:
    """A time as a naive UTC datetime (Excel has no time zones)."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _format(cell_value: object, unit: str = "count") -> str | None:
    """The display format of a cell's value in `unit` (None: the default)."""
    if isinstance(cell_value, datetime):
        return TIME_FORMAT
    if isinstance(cell_value, date):
        return DATE_FORMAT
    if isinstance(cell_value, bool) or not isinstance(cell_value, int | float):
        return None
    digits = "#,##0" if isinstance(cell_value, int) else "#,##0.00"
    return digits + UNIT_SUFFIX.get(unit, "")


def _sheet(
    workbook: Workbook,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    units: Sequence[Sequence[str]] = (),
) -> Worksheet:
    """A sheet with a bold header row and one row per item; `units[i][n]` (if given) is the
    unit of row i's column n (`eur`, `percent`, `count`)."""
    sheet: Worksheet = workbook.create_sheet(title)
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    wrapped = Alignment(vertical="top", wrap_text=True)
    for i, row in enumerate(rows):  # a style set per cell costs: only where one is needed
        row_units = units[i] if i < len(units) else ()
        for n, cell_value in enumerate(row):
            cell = sheet.cell(row=i + 2, column=n + 1, value=cell_value)
            number_format = _format(cell_value, row_units[n] if n < len(row_units) else "count")
            if number_format:
                cell.number_format = number_format
            elif isinstance(cell_value, str) and (len(cell_value) > WRAP or "\n" in cell_value):
                cell.alignment = wrapped
    for n, name in enumerate(header, start=1):
        width = max([len(name), *(len(str(r[n - 1])) for r in rows if r[n - 1] is not None)])
        sheet.column_dimensions[get_column_letter(n)].width = min(max(width + 2, 10), 60)
    sheet.freeze_panes = "A2"
    return sheet


def _provenance_rows(provenance: Provenance) -> list[tuple[str, Cell]]:
    return [
        ("Position im Ereignisprotokoll", provenance.position),
        ("Kettenhash an dieser Position", provenance.hash),
        ("Aufgezeichnet am (UTC)", _utc(provenance.recorded_at)),
        ("Bekannt am (UTC)", _utc(provenance.as_of)),
        ("Veröffentlicht bis (UTC)", _utc(provenance.as_published)),
        ("Korrekturen seit (UTC)", _utc(provenance.since)),
    ]


def _workbook() -> Workbook:
    """A workbook without the sheet openpyxl starts with."""
    workbook = Workbook()
    del workbook[workbook.sheetnames[0]]
    return workbook


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def agreement_xlsx(report: AgreementReport) -> bytes:
    """The agreement's report as a workbook."""
    workbook = _workbook()
    overview: list[tuple[str, Cell]] = [
        ("Bericht", "Bericht zur Zielerreichung"), ("Vereinbarung", report.agreement_id),
        ("Titel", report.title), ("Jahr", report.year),
        ("Ebene", german.LEVEL.get(report.level, report.level)),
        ("Jobcenter", report.jobcenter_id), ("Name", report.jobcenter_name),
        ("Mitglieder", ", ".join(report.members) or None),
        ("Land", german.land_name(report.land)), ("Partner", "; ".join(report.parties)),
        ("Unterzeichnet am", report.signed_on),
        ("Stand", german.AGREEMENT_STATUS.get(report.status, report.status)),
        ("Abgeschlossen am", report.closed_on), *_provenance_rows(report.provenance),
    ]  # fmt: skip
    _sheet(workbook, "Übersicht", ["Angabe", "Wert"], overview)
    targets = [line.result for line in report.targets]
    _sheet(
        workbook, "Ziele",
        ["Ziel-ID", "Ziel", "Vergleich", "Einheit", "Zielwert", "Ist", "Monate gemeldet",
         "Soll bis dato", "Prognose", "Zielerreichung (%)", "Status", "endgültig", "Planbasis"],
        [[r.target_id, german.target_name(r.indicator, r.breakdown, r.label),
          german.COMPARATOR[r.comparator], r.unit, value(r.target_value), value(r.actual),
          r.months_reported, value(r.expected_to_date), value(r.forecast),
          value(r.attainment_pct), german.STATUS[r.status], "ja" if r.final else "nein",
          german.PLAN_BASIS.get(r.plan_basis or "", german.DASH)] for r in targets],
        [["", "", "", "", r.unit, r.unit, "", r.unit, r.unit, "percent"] for r in targets],
    )  # fmt: skip
    _trajectories(workbook, report)
    compared = [(line.result, line.comparison) for line in report.targets if line.comparison]
    _sheet(
        workbook, "Vergleichstyp",
        ["Ziel-ID", "Kennzahl", "Monat", "Wert", "Typ", "Typname", "Typisierung", "Version",
         "Jobcenter im Typ", "Minimum", "unteres Quartil", "Median", "oberes Quartil",
         "Maximum", "Rang", "besser", "Stand (Position)"],
        [[r.target_id, r.indicator, c.period, value(c.value), c.type_code, c.type_name,
          c.typology, c.typology_version, c.jobcenters, value(c.minimum),
          value(c.lower_quartile), value(c.median), value(c.upper_quartile), value(c.maximum),
          c.rank, {"lower": "niedriger", "higher": "höher"}.get(c.better or "", german.DASH),
          c.position] for r, c in compared],
        [["", "", "", "percent", "", "", "", "", "", *["percent"] * 5]] * len(compared),
    )  # fmt: skip
    _sheet(
        workbook, "Qualitative Ziele", ["Abschnitt", "Ziel", "Unterstützung des Landes"],
        [[g.section, g.text, "\n".join(g.state_support)] for g in report.goals],
    )  # fmt: skip
    _sheet(
        workbook, "Haushalt", ["Haushaltslinie", "Zugewiesen", "Abweichungen", "Aktuell",
                               "Maßnahmen"],
        [[b.budget_line, value(b.allocated), value(b.current - b.allocated), value(b.current),
          "\n".join(b.measures)] for b in report.budget_lines],
        [["", "eur", "eur", "eur"]] * len(report.budget_lines),
    )  # fmt: skip
    _sheet(
        workbook, "Abweichungen", ["Haushaltslinie", "Monat", "Betrag", "Grund"],
        [[b.budget_line, d.period, value(d.amount_eur), d.reason]
         for b in report.budget_lines for d in b.deviations],
        [["", "", "eur"]] * sum(len(b.deviations) for b in report.budget_lines),
    )  # fmt: skip
    _sheet(workbook, "Zieldialoge", ["Datum", "Ergebnis"],
           [[d.held_on, d.summary] for d in report.dialogs])  # fmt: skip
    _sheet(
        workbook, "Korrekturen",
        ["Reihe", "Jobcenter", "Kennzahl", "Aufschlüsselung", "Monat", "Bisher", "Neu", "Grund",
         "Veröffentlicht (UTC)", "Position"],
        [[german.series_name(c.indicator, c.breakdown), c.jobcenter_id, c.indicator,
          c.breakdown, c.period,
          value(c.previous), value(c.value), c.reason, _utc(c.published_at), c.position]
         for c in report.corrections],
    )  # fmt: skip
    return _save(workbook)


def _trajectories(workbook: Workbook, report: AgreementReport) -> None:
    """Sheet "Verlauf": a month column, then Soll and Ist of each target, and a chart of each."""
    header = ["Monat"]
    for line in report.targets:
        header += [f"{line.result.target_id} Soll", f"{line.result.target_id} Ist"]
    rows: list[list[Cell]] = []
    for month in range(12):
        row: list[Cell] = [f"{german.MONTHS[month]} {report.year}"]
        for line in report.targets:
            plan = line.result.plan_path
            row += [value(plan[month]) if plan else None, value(line.trajectory[month])]
        rows.append(row)
    sheet = _sheet(workbook, "Verlauf", header, rows)
    for n, line in enumerate(report.targets):
        chart = LineChart()
        result = line.result
        chart.title = german.target_name(result.indicator, result.breakdown, result.label)
        chart.y_axis.title = german.with_unit(None, result.unit).replace(german.DASH, "Wert")
        chart.x_axis.title = "Monat"
        column = 2 + 2 * n
        chart.add_data(Reference(sheet, min_col=column, max_col=column + 1, min_row=1,
                                 max_row=13), titles_from_data=True)  # fmt: skip
        chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=13))
        chart.height, chart.width = 7.5, 16
        sheet.add_chart(chart, f"A{16 + 16 * n}")


def portfolio_xlsx(report: PortfolioReport) -> bytes:
    """A Land's or Germany's portfolio as a workbook: one row per (agreement, target)."""
    workbook = _workbook()
    overview: list[tuple[str, Cell]] = [
        ("Bericht", "Portfolio der Zielerreichung"), ("Gebiet", german.land_name(report.land)),
        ("Jahr", report.year), *_provenance_rows(report.provenance),
    ]  # fmt: skip
    _sheet(workbook, "Übersicht", ["Angabe", "Wert"], overview)
    _sheet(
        workbook, "Portfolio",
        ["Vereinbarung", "Ebene", "Jobcenter", "Land", "Jahr", "Ziel-ID", "Ziel", "Einheit",
         "Zielwert", "Ist", "Monate gemeldet", "Soll bis dato", "Prognose",
         "Zielerreichung (%)", "Status"],
        [[r.agreement_id, german.LEVEL[r.level], r.jobcenter_id, r.land, r.year, r.target_id,
          german.target_name(r.indicator, r.breakdown, r.label), r.unit, value(r.target_value),
          value(r.actual), r.months_reported, value(r.expected_to_date), value(r.forecast),
          value(r.attainment_pct), german.STATUS[r.status]] for r in report.rows],
        [["", "", "", "", "", "", "", "", r.unit, r.unit, "", r.unit, r.unit, "percent"]
         for r in report.rows],
    )  # fmt: skip
    return _save(workbook)
