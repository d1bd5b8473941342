"""`GET /figures/vintages`: every publication (vintage) of one monthly figure, read from the
event store, oldest published first."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from events.catalogue import CATALOGUE, FigureEvent, MonthlyFigureCorrected
from events.envelope import Number
from events.log import RecordedEvent
from services.api.auth import Reader
from services.api.deps import NOT_FOUND, Limit, Offset, ReadAtDep, jobcenter_land
from services.api.errors import ApiError
from services.replay import figure_vintages

router = APIRouter()


class Vintage(BaseModel):
    """One publication of a monthly figure: a report or a correction."""

    type: str
    value: Number
    numerator: Number | None
    denominator: Number | None
    status: str
    reason: str | None
    position: int
    recorded_at: datetime
    occurred_at: datetime


class Vintages(BaseModel):
    """A page of a figure's publications, in publication order (`occurred_at`, then position)."""

    items: list[Vintage]
    count: int


def vintage(event: RecordedEvent) -> Vintage:
    """The vintage a recorded figure event publishes (upcast to the latest version)."""
    figure = CATALOGUE.decode(event.type, event.schema_version, event.data, stored=True)
    assert isinstance(figure, FigureEvent)  # the store selects figure types only
    reason = figure.reason if isinstance(figure, MonthlyFigureCorrected) else None
    return Vintage(
        type=event.type, value=figure.value, numerator=figure.numerator,
        denominator=figure.denominator, status=figure.status, reason=reason,
        position=event.position, recorded_at=event.recorded_at, occurred_at=event.occurred_at,
    )  # fmt: skip


@router.get("/figures/vintages", responses=NOT_FOUND)
async def vintages(
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    jobcenter_id: Annotated[str, Query(min_length=1)],
    indicator: Annotated[str, Query(min_length=1)],
    breakdown: Annotated[str, Query(min_length=1)],
    period: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Vintages:
    """Every recorded publication of one (jobcenter, indicator, breakdown, period), oldest
    published first (`occurred_at`, ties by position): the last one is in force,
    `revision_count` of `GET /figures` is their number - 1. 404 when the figure was never
    published or its jobcenter is outside the caller's scope."""
    key = (jobcenter_id, indicator, breakdown, period)
    unknown = ApiError(404, "not_found", f"no figure {'/'.join(key)!r}")
    if not caller.federal and not caller.sees(
        await jobcenter_land(at.store.pool, jobcenter_id), jobcenter_id
    ):
        raise unknown  # before any read of the log
    async with at.snapshot(response, None) as connection:
        head = int(response.headers["X-Position"])
        events, count = await figure_vintages(connection, key, head, limit, offset)
    if count == 0:
        raise unknown
    return Vintages(items=[vintage(event) for event in events], count=count)
