"""The report files: which renderer makes a format, its media type and the file's name."""

from typing import Literal

from services.reports.content import AgreementReport, PortfolioReport
from services.reports.pdf import agreement_pdf, portfolio_pdf
from services.reports.xlsx import agreement_xlsx, portfolio_xlsx

ReportFormat = Literal["pdf", "xlsx"]
MEDIA_TYPES: dict[ReportFormat, str] = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def agreement_file(report: AgreementReport, file_format: ReportFormat) -> bytes:
    """The agreement's report as a PDF or a workbook."""
    return agreement_pdf(report) if file_format == "pdf" else agreement_xlsx(report)


def agreement_filename(report: AgreementReport, file_format: ReportFormat) -> str:
    """`zielerreichung-<agreement>-<position>.<format>`: the position makes it reproducible."""
    return f"zielerreichung-{report.agreement_id}-{report.provenance.position}.{file_format}"


def portfolio_file(report: PortfolioReport, file_format: ReportFormat) -> bytes:
    """The portfolio as a PDF or a workbook."""
    return portfolio_pdf(report) if file_format == "pdf" else portfolio_xlsx(report)


def portfolio_filename(report: PortfolioReport, file_format: ReportFormat) -> str:
    """`portfolio-<Land or DE>[-<year>]-<position>.<format>`."""
    year = "" if report.year is None else f"-{report.year}"
    area = report.land or "DE"
    return f"portfolio-{area}{year}-{report.provenance.position}.{file_format}"
