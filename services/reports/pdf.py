"""A report as PDF (ReportLab): A4, German, the Bitstream Vera fonts that ship with
ReportLab embedded (umlauts, ß and € without any system font), a trajectory chart per target
drawn with ReportLab's chart module. The same report gives the same bytes (`invariant`)."""

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate

from services.reports import german
from services.reports.content import AgreementReport, PortfolioReport, TargetLine, TypePosition

FONT, BOLD = "Vera", "VeraBd"
for _name, _file in ((FONT, "Vera.ttf"), (BOLD, "VeraBd.ttf")):
    pdfmetrics.registerFont(TTFont(_name, _file))  # found in ReportLab's own fonts folder
pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)

BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9.5)
NUMBER = ParagraphStyle("number", parent=SMALL, alignment=TA_RIGHT)
TITLE = ParagraphStyle("title", parent=BODY, fontName=BOLD, fontSize=15, leading=19)
HEADING = ParagraphStyle("heading", parent=BODY, fontName=BOLD, fontSize=11.5, leading=15,
                         spaceBefore=8, spaceAfter=4, keepWithNext=1)  # fmt: skip
SUBHEADING = ParagraphStyle("subheading", parent=BODY, fontName=BOLD, spaceBefore=6,
                            keepWithNext=1)  # fmt: skip
PORTFOLIO_CHUNK = 50
"""Rows per table of a portfolio: a long table split page by page is laid out again at every
split, so a portfolio of thousands of rows is a series of short tables."""
PLAN_COLOUR, ACTUAL_COLOUR = colors.HexColor("#8a8f98"), colors.HexColor("#0b5cad")
GRID = TableStyle([
    ("FONT", (0, 0), (-1, -1), FONT, 7.5), ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
    ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#c8ccd2")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
])  # fmt: skip


def _p(text: str, style: ParagraphStyle = SMALL) -> Paragraph:
    """`text` as a paragraph, its line breaks kept."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
           numeric: Sequence[int] = (), wrapped: Sequence[int] | None = None) -> Table:  # fmt: skip
    """A table of text cells, the columns in `numeric` right-aligned; the cells of the columns
    in `wrapped` (default: all) wrap, the others stay on one line (much faster to lay out)."""
    wrap = range(len(header)) if wrapped is None else wrapped
    cells = [[_p(text, NUMBER if n in numeric else SMALL) if n in wrap else text
              for n, text in enumerate(row)] for row in rows]  # fmt: skip
    head = [_p(h, NUMBER if n in numeric else SMALL) for n, h in enumerate(header)]
    table = Table([head, *cells], colWidths=widths, repeatRows=1)
    table.setStyle(GRID)
    table.setStyle([("ALIGN", (n, 1), (n, -1), "RIGHT") for n in numeric if n not in wrap])
    return table


def _document(buffer: io.BytesIO, title: str, pagesize: tuple[float, float]) -> BaseDocTemplate:
    return SimpleDocTemplate(
        buffer, pagesize=pagesize, title=title, author="Zielsteuerung", invariant=True,
        leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm, bottomMargin=14 * mm,
    )  # fmt: skip


def _footer(text: str) -> Any:
    def draw(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(document.leftMargin, 8 * mm, text)
        canvas.drawRightString(document.pagesize[0] - document.rightMargin, 8 * mm,
                               f"Seite {canvas.getPageNumber()}")  # fmt: skip
        canvas.restoreState()

    return draw


def chart(line: TargetLine) -> Drawing:
    """The target's actual to date at each month's end beside its plan path (Soll)."""
    result = line.result
    drawing = Drawing(170 * mm, 52 * mm)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 14 * mm, 8 * mm, 120 * mm, 40 * mm
    plan = [(m, float(v)) for m, v in enumerate(result.plan_path, start=1)]
    actual = [(m, float(v)) for m, v in enumerate(line.trajectory, start=1) if v is not None]
    series = [s for s in (plan, actual) if s] or [[(1, 0.0)]]
    plot.data = series
    values = [v for s in series for _, v in s] + [float(result.target_value)]
    low, high = min(0.0, *values), max(values) * 1.05 or 1.0
    if low == 0 and min(values) > high / 2:  # a level: show the band it moves in, not 0
        low = min(values) - (max(values) - min(values) + high / 20)
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 1, 12
    plot.xValueAxis.valueSteps = list(range(1, 13))
    plot.xValueAxis.labelTextFormat = lambda m: german.MONTHS[int(m) - 1]
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = low, high
    plot.yValueAxis.labelTextFormat = german.number
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName, axis.labels.fontSize = FONT, 6.5
    colours = [c for s, c in ((plan, PLAN_COLOUR), (actual, ACTUAL_COLOUR)) if s]
    for n, colour in enumerate(colours):
        plot.lines[n].strokeColor = colour
        plot.lines[n].strokeWidth = 1.6 if colour == ACTUAL_COLOUR else 1
    if plan:
        plot.lines[0].strokeDashArray = [3, 2]
    drawing.add(plot)
    legend = Legend()
    legend.x, legend.y = 138 * mm, 44 * mm
    legend.fontName, legend.fontSize = FONT, 7
    legend.colorNamePairs = [(PLAN_COLOUR, "Soll (Planpfad)"), (ACTUAL_COLOUR, "Ist")]
    drawing.add(legend)
    return drawing


def _overview(report: AgreementReport) -> list[Flowable]:
    provenance = report.provenance
    facts = [
        ("Vereinbarung", report.agreement_id), ("Jahr", str(report.year)),
        ("Ebene", german.LEVEL.get(report.level, report.level)),
        ("Land", german.land_name(report.land)),
        ("Partner", "; ".join(report.parties)),
        ("Unterzeichnet am", german.day(report.signed_on)),
        ("Stand der Vereinbarung", german.AGREEMENT_STATUS.get(report.status, report.status)
         + (f" am {german.day(report.closed_on)}" if report.closed_on else "")),
        ("Stand des Protokolls", f"Position {provenance.position} vom "
                                 f"{german.moment(provenance.recorded_at)}"),
        ("Kettenhash", provenance.hash),
    ]  # fmt: skip
    if report.jobcenter_id is not None:
        name = report.jobcenter_name or report.jobcenter_id
        facts.insert(3, ("Jobcenter", f"{name} ({report.jobcenter_id})"))
    if report.members:
        facts.insert(3, ("Mitglieder", f"{len(report.members)} Jobcenter: "
                                       + ", ".join(report.members)))  # fmt: skip
    if provenance.as_of is not None:
        facts.append(("Bekannt am", german.moment(provenance.as_of)))
    if provenance.as_published is not None:
        facts.append(("Veröffentlicht bis", german.moment(provenance.as_published)))
    table = Table([[_p(k, BODY), _p(v, BODY)] for k, v in facts], colWidths=[42 * mm, 136 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0)]))  # fmt: skip
    title = report.title or f"Zielvereinbarung {report.agreement_id} {report.year}"
    return [_p("Bericht zur Zielerreichung", HEADING), _p(title, TITLE), Spacer(1, 4 * mm), table]


def _targets(report: AgreementReport) -> list[Flowable]:
    header = ["Ziel", "Zielwert", "Ist", "Monate", "Soll bis dato", "Prognose",
              "Zielerreichung", "Status"]  # fmt: skip
    rows = []
    for line in report.targets:
        r = line.result
        rows.append([
            german.target_name(r.indicator, r.breakdown, r.label)
            + f" ({german.COMPARATOR[r.comparator]})",
            german.with_unit(r.target_value, r.unit), german.with_unit(r.actual, r.unit),
            str(r.months_reported), german.with_unit(r.expected_to_date, r.unit),
            german.with_unit(r.forecast, r.unit), german.percent(r.attainment_pct),
            german.STATUS[r.status] + (" (endgültig)" if r.final else ""),
        ])  # fmt: skip
    widths = [w * mm for w in (48, 17, 18, 12, 20, 18, 24, 21)]
    if not rows:
        return [_p("Ziele und Zielerreichung", HEADING), _p("Keine quantitativen Ziele.", BODY)]
    flowables: list[Flowable] = [_p("Ziele und Zielerreichung", HEADING),
                                 _table(header, rows, widths, numeric=range(1, 7))]  # fmt: skip
    for line in report.targets:
        r = line.result
        months = [german.MONTHS[n] for n in range(12)]
        plan = [german.with_unit(v, r.unit) for v in r.plan_path] or [german.DASH] * 12
        actual = [german.with_unit(v, r.unit) for v in line.trajectory] or [german.DASH] * 12
        basis = german.PLAN_BASIS.get(r.plan_basis or "", "")
        path = Table([["", *months], ["Soll", *plan], ["Ist", *actual]],
                     colWidths=[10 * mm] + [14 * mm] * 12)  # fmt: skip
        path.setStyle(GRID)
        parts = [
            _p(german.target_name(r.indicator, r.breakdown, r.label), SUBHEADING),
            _p(f"Verlauf {report.year}" + (f" (Planpfad: {basis})" if basis else ""), SMALL),
            chart(line), path,
        ]  # fmt: skip
        if line.comparison is not None:
            parts += [Spacer(1, 2 * mm), _p(type_position(line.comparison), SMALL)]
        flowables.append(KeepTogether(parts))
    return flowables


def type_position(c: TypePosition) -> str:
    """Where the jobcenter stands in its comparison type, as one sentence."""
    rank = german.DASH if c.rank is None else f"{c.rank} von {c.jobcenters}"
    better = {"lower": " (niedriger ist besser)", "higher": " (höher ist besser)"}
    return (
        f"Vergleichstyp {c.type_code} „{c.type_name}“ ({c.typology} {c.typology_version}), "
        f"{german.period(c.period)}: Wert {german.with_unit(c.value, 'percent')}; Rang {rank}"
        f"{better.get(c.better or '', '')}; Minimum {german.with_unit(c.minimum, 'percent')}, "
        f"unteres Quartil {german.with_unit(c.lower_quartile, 'percent')}, "
        f"Median {german.with_unit(c.median, 'percent')}, "
        f"oberes Quartil {german.with_unit(c.upper_quartile, 'percent')}, "
        f"Maximum {german.with_unit(c.maximum, 'percent')} (Kennzahlen mit Stand Position "
        f"{c.position})."
    )


def _goals(report: AgreementReport) -> list[Flowable]:
    if not report.goals:
        return []
    flowables: list[Flowable] = [_p("Qualitative Ziele und Unterstützung des Landes", HEADING)]
    for goal in report.goals:
        flowables += [_p(goal.section, SUBHEADING), _p(goal.text, BODY)]
        if goal.state_support:
            flowables.append(_p("Das Land unterstützt die Zielerreichung durch:", BODY))
            flowables += [_p(f"• {item}", BODY) for item in goal.state_support]
    return flowables


def _budgets(report: AgreementReport) -> list[Flowable]:
    if not report.budget_lines:
        return []
    header = ["Haushaltslinie", "Zugewiesen", "Abweichungen", "Aktuell", "Maßnahmen"]
    rows = [[line.budget_line, german.with_unit(line.allocated, "eur"),
             "\n".join(f"{german.period(d.period)}: {german.with_unit(d.amount_eur, 'eur')} "
                       f"({d.reason})" for d in line.deviations) or german.DASH,
             german.with_unit(line.current, "eur"),
             "\n".join(f"• {m}" for m in line.measures) or german.DASH]
            for line in report.budget_lines]  # fmt: skip
    widths = [w * mm for w in (36, 22, 46, 22, 52)]
    return [_p("Haushalt und Abweichungen", HEADING),
            _table(header, rows, widths, numeric=(1, 3))]  # fmt: skip


def _dialogs(report: AgreementReport) -> list[Flowable]:
    if not report.dialogs:
        return []
    rows = [[german.day(d.held_on), d.summary] for d in report.dialogs]
    return [_p("Zieldialoge", HEADING), _table(["Datum", "Ergebnis"], rows, [24 * mm, 154 * mm])]


def _corrections(report: AgreementReport) -> list[Flowable]:
    since = report.provenance.since
    title = "Korrekturen" + (f" seit {german.day(since)}" if since else "")
    if not report.corrections:
        return [_p(title, HEADING), _p("Keine Korrekturen.", BODY)]
    header = ["Reihe", "Monat", "Bisher", "Neu", "Grund", "Veröffentlicht", "Position"]
    rows = [[german.series_name(c.indicator, c.breakdown)
             + ("" if c.jobcenter_id == report.jobcenter_id else f", {c.jobcenter_id}"),
             german.period(c.period),
             german.number(c.previous), german.number(c.value), c.reason,
             german.day(c.published_at), str(c.position)] for c in report.corrections]  # fmt: skip
    widths = [w * mm for w in (40, 14, 16, 16, 52, 20, 18)]
    return [_p(title, HEADING), _table(header, rows, widths, numeric=(2, 3, 6))]


def _reproduce(report: AgreementReport) -> list[Flowable]:
    provenance = report.provenance
    query = f"as_of_position={provenance.position}"
    if provenance.as_published is not None:
        query += f"&as_published={provenance.as_published.isoformat()}"
    text = (
        f"Berechnet aus dem Ereignisprotokoll bis Position {provenance.position} (Kettenhash "
        f"{provenance.hash}). Nachprüfbar mit „zs audit verify“ und "
        f"GET /agreements/{report.agreement_id}/attainment?{query}."
    )
    return [_p("Nachvollziehbarkeit", HEADING), _p(text, BODY)]


def agreement_pdf(report: AgreementReport) -> bytes:
    """The agreement's report as a PDF document."""
    buffer = io.BytesIO()
    title = f"Zielerreichung {report.agreement_id} {report.year}"
    document = _document(buffer, title, A4)
    story = [*_overview(report), *_targets(report), *_goals(report), *_budgets(report),
             *_dialogs(report), *_corrections(report), *_reproduce(report)]  # fmt: skip
    footer = _footer(f"{title} · Position {report.provenance.position}")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def portfolio_pdf(report: PortfolioReport) -> bytes:
    """A Land's or Germany's portfolio as a PDF document (landscape)."""
    buffer = io.BytesIO()
    title = f"Portfolio {german.land_name(report.land)}" + (
        f" {report.year}" if report.year else ""
    )
    document = _document(buffer, title, landscape(A4))
    header = ["Vereinbarung", "Ebene", "Jobcenter", "Land", "Jahr", "Ziel", "Zielwert", "Ist",
              "Prognose", "Zielerreichung", "Status"]  # fmt: skip
    rows = [[r.agreement_id, german.LEVEL[r.level], r.jobcenter_id or german.DASH,
             r.land or german.DASH, str(r.year),
             german.target_name(r.indicator, r.breakdown, r.label),
             german.with_unit(r.target_value, r.unit), german.with_unit(r.actual, r.unit),
             german.with_unit(r.forecast, r.unit), german.percent(r.attainment_pct),
             german.STATUS[r.status]] for r in report.rows]  # fmt: skip
    widths = [w * mm for w in (30, 18, 18, 14, 11, 62, 20, 20, 20, 22, 20)]
    provenance = report.provenance
    story = [
        _p("Bericht zur Zielerreichung", HEADING), _p(title, TITLE), Spacer(1, 3 * mm),
        _p(f"Stand: Position {provenance.position} vom {german.moment(provenance.recorded_at)}, "
           f"Kettenhash {provenance.hash}", BODY),
        Spacer(1, 3 * mm),
        *(_table(header, rows[n : n + PORTFOLIO_CHUNK], widths, range(6, 10), wrapped=(5,))
          for n in range(0, len(rows), PORTFOLIO_CHUNK)),
    ]  # fmt: skip
    footer = _footer(f"{title} · Position {provenance.position}")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
