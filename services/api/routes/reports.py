"""Report files (docs/reports.md): an agreement's attainment report
(`GET /agreements/{id}/report`) and a Land's or Germany's portfolio (`GET /reports/portfolio`),
as PDF or XLSX, built by `services.reports` from the answers the API gives."""

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from projections.attainment.answers import PortfolioRow
from services.api.auth import Principal, Reader
from services.api.csv_export import content_disposition
from services.api.deps import ERRORS, Moment, ReadAt, ReadAtDep, Year
from services.api.errors import ApiError
from services.api.routes.agreements import require_in_scope
from services.api.routes.attainment import Level, portfolio_page
from services.api.routes.key_figures import key_figures
from services.replay import position_of
from services.reports.content import (
    AgreementReport,
    PortfolioReport,
    TypePosition,
    agreement_report,
    provenance_at,
)
from services.reports.files import (
    MEDIA_TYPES,
    ReportFormat,
    agreement_file,
    agreement_filename,
    portfolio_file,
    portfolio_filename,
)

PAGE = 1000
KeyFigureCode = Literal["k1", "k1e2", "k2", "k3"]
COMPARED: dict[str, KeyFigureCode] = {code: code for code in get_args(KeyFigureCode)}
"""The key figures `GET /key-figures` computes and compares within a type."""
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {"schema": {"type": "string", "format": "binary"}}
                      for media in MEDIA_TYPES.values()},
          "description": "the report file (`Content-Disposition: attachment`)"},
    404: {"description": "unknown, or outside the caller's scope"}, **ERRORS,
}  # fmt: skip
FormatParam = Annotated[ReportFormat, Query(description="`pdf` (default) or `xlsx`")]
Land = Annotated[str | None, Query(pattern=r"^DE-[A-Z]{2}$", description="e.g. `DE-HE`")]

router = APIRouter()


def file_response(body: bytes, file_format: ReportFormat, name: str, position: int) -> Response:
    """A report file as an attachment, with the position it was computed at."""
    return Response(
        body, media_type=MEDIA_TYPES[file_format],
        headers={"X-Position": str(position), "Content-Disposition": content_disposition(name)},
    )  # fmt: skip


@router.get("/agreements/{agreement_id}/report", response_class=Response, responses=FILE_RESPONSES)
async def agreement_report_file(
    agreement_id: str,
    read: ReadAtDep,
    caller: Reader,
    format: FormatParam = "pdf",
    as_of: Moment | None = None,
    as_of_position: Annotated[int | None, Query(ge=0)] = None,
    as_published: Moment | None = None,
    since: Annotated[Moment | None, Query(description="list the corrections from then")] = None,
) -> Response:
    """The agreement's attainment report: parties, targets with plan path, actual, forecast,
    attainment and status, a trajectory chart per target, qualitative goals with the Land's
    support, budgets with deviations, dialogues, the corrections published since `since`, and
    the log position and chain hash it was computed from. Computed from the log (now, as known
    at `as_of`/`as_of_position`, or as published by `as_published`), with the numbers of
    `GET /agreements/{id}/attainment?as_of_position=<X-Position>`."""
    await require_in_scope(read, caller, agreement_id)  # before the log is read
    position = await position_of(read.store, as_of, as_of_position)
    report = await agreement_report(
        read.store, agreement_id, position, as_of=as_of, as_published=as_published, since=since
    )
    if report is None:
        raise ApiError(404, "not_found", f"agreement {agreement_id!r} unknown at {position}")
    report = await with_type_positions(read, caller, report)
    body = await run_in_threadpool(agreement_file, report, format)
    return file_response(body, format, agreement_filename(report, format), position)


@router.get("/reports/portfolio", response_class=Response, responses=FILE_RESPONSES)
async def portfolio_report_file(
    read: ReadAtDep,
    response: Response,
    caller: Reader,
    land: Land = None,
    year: Year = None,
    format: FormatParam = "pdf",
) -> Response:
    """The portfolio of a Land (`land`) or of Germany (no `land`: federal readers only): every
    target of its agreements with attainment and status, the rows of `GET /attainment` at the
    attainment view's position: the federal agreements' (Germany), the Länder's, then the
    jobcenters'."""
    if not caller.federal and (land is None or land not in (caller.lands or ())):
        raise ApiError(404, "not_found", f"no portfolio of {land or 'Germany'} in your scope")
    rows: list[PortfolioRow] = []
    levels: tuple[Level, ...] = ("land", "jobcenter") if land else ("germany", "land", "jobcenter")
    async with read.snapshot(response, "attainment") as connection:  # one snapshot for all
        for level in levels:  # the roll-ups first, then the jobcenters' agreements
            found: list[PortfolioRow] = []
            count = 1
            while len(found) < count:
                page, count = await portfolio_page(
                    connection, caller, year, land, None, None, PAGE, len(found), level
                )
                if not page:
                    break
                found += page
            rows += found
    position = int(response.headers["X-Position"])
    provenance = await provenance_at(read.store, position)
    if provenance is None:
        raise ApiError(404, "not_found", "the log is empty")
    report = PortfolioReport(land=land, year=year, rows=rows, provenance=provenance)
    body = await run_in_threadpool(portfolio_file, report, format)
    return file_response(body, format, portfolio_filename(report, format), position)


async def with_type_positions(
    read: ReadAt, caller: Principal, report: AgreementReport
) -> AgreementReport:
    """The report with each key-figure target's position in its jobcenter's comparison type:
    the latest month of the agreement's year `GET /key-figures?compare=type` answers for the
    jobcenter, the target's key figure and breakdown (as that view knows it now)."""
    if report.jobcenter_id is None:  # a Land's or the federal agreement: no one jobcenter
        return report
    lines = []
    for line in report.targets:
        target = line.result
        if target.indicator in COMPARED:
            response = Response()
            answer = await key_figures(
                read, response, caller, level="jobcenter", jobcenter_id=report.jobcenter_id,
                land=None, code=COMPARED[target.indicator], breakdown=target.breakdown,
                year=report.year, period=None, compare="type", limit=12, offset=0,
            )  # fmt: skip
            compared = [item for item in answer.items if item.comparison is not None]
            if compared:
                latest = compared[-1]
                assert latest.comparison is not None  # kept above
                position = int(response.headers["X-Position"])
                comparison = TypePosition(
                    period=latest.period, value=latest.value, position=position,
                    **latest.comparison.model_dump(),
                )  # fmt: skip
                line = line.model_copy(update={"comparison": comparison})
        lines.append(line)
    return report.model_copy(update={"targets": lines})
