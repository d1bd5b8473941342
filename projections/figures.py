"""The "figures" projection: monthly figures as known now, one row per (jobcenter, series, month).

Invariants: the latest recorded publication (highest position) of a (jobcenter_id, indicator,
breakdown, period) sets the row, whether a report or a correction; `revision_count` counts the
publications of that month after the first (0 for a month published once); `position` and
`recorded_at` name the publication in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.catalogue import CATALOGUE, FigureEvent, MonthlyFigureCorrected
from events.store import RecordedEvent

FIGURE_TYPES = frozenset({"MonthlyFigureReported", "MonthlyFigureCorrected"})
FigureKey = tuple[str, str, str, str]
"""(jobcenter_id, indicator, breakdown, period)."""

# The single definition of the table: the runner creates the live copy from it
# (`ProjectionRunner.ensure_tables`) and the fresh ones of a rebuild.
FIGURES_DDL = (
    """
    CREATE TABLE {figures} (
        jobcenter_id   text        NOT NULL,
        indicator      text        NOT NULL,
        breakdown      text        NOT NULL,
        period         text        NOT NULL,
        value          numeric     NOT NULL,
        numerator      numeric,
        denominator    numeric,
        status         text        NOT NULL,
        revision_count integer     NOT NULL,
        position       bigint      NOT NULL,
        recorded_at    timestamptz NOT NULL,
        last_reason    text,
        PRIMARY KEY (jobcenter_id, indicator, breakdown, period)
    )
    """,
    "CREATE INDEX figures_jobcenter_indicator_period_idx"
    " ON {figures} (jobcenter_id, indicator, period)",
)
UPSERT_FIGURES = """
INSERT INTO {figures} AS f (
    jobcenter_id, indicator, breakdown, period, value, numerator, denominator, status,
    revision_count, position, recorded_at, last_reason
)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::numeric[],
    $7::numeric[], $8::text[], $9::integer[], $10::bigint[], $11::timestamptz[], $12::text[]
)
ON CONFLICT (jobcenter_id, indicator, breakdown, period) DO UPDATE SET
    value = EXCLUDED.value,
    numerator = EXCLUDED.numerator,
    denominator = EXCLUDED.denominator,
    status = EXCLUDED.status,
    revision_count = f.revision_count + EXCLUDED.revision_count + 1,
    position = EXCLUDED.position,
    recorded_at = EXCLUDED.recorded_at,
    last_reason = EXCLUDED.last_reason
"""


@dataclass(frozen=True)
class FigureRow:
    """The change one batch makes to one figure: its latest publication and how many it saw."""

    jobcenter_id: str
    indicator: str
    breakdown: str
    period: str
    value: Decimal
    numerator: Decimal | None
    denominator: Decimal | None
    status: str
    publications: int
    position: int
    recorded_at: datetime
    last_reason: str | None

    @property
    def revision_count(self) -> int:
        """The publications after the first one among those seen (0: published once)."""
        return self.publications - 1


def figure_row(event: RecordedEvent) -> FigureRow:
    """The row one figure publication sets (counting as one publication)."""
    figure = CATALOGUE.decode(event.type, event.schema_version, event.data)
    assert isinstance(figure, FigureEvent)  # FIGURE_TYPES decode to figure events
    return FigureRow(
        jobcenter_id=figure.jobcenter_id,
        indicator=figure.indicator,
        breakdown=figure.breakdown,
        period=figure.period,
        value=figure.value,
        numerator=figure.numerator,
        denominator=figure.denominator,
        status=figure.status,
        publications=1,
        position=event.position,
        recorded_at=event.recorded_at,
        last_reason=figure.reason if isinstance(figure, MonthlyFigureCorrected) else None,
    )


def fold_figures(
    events: Iterable[RecordedEvent], rows: dict[FigureKey, FigureRow] | None = None
) -> list[FigureRow]:
    """One row per figure touched by `events` (in position order), folded into `rows` when
    given: the latest publication wins, `publications` counts them all; other types are ignored."""
    rows = {} if rows is None else rows
    for event in events:
        if event.type not in FIGURE_TYPES:
            continue
        row = figure_row(event)
        key = (row.jobcenter_id, row.indicator, row.breakdown, row.period)
        seen = rows.get(key)
        rows[key] = replace(row, publications=seen.publications + 1) if seen else row
    return list(rows.values())


class FiguresLoader:
    """The figures of a rebuild, folded in memory and written once at the end."""

    def __init__(self) -> None:
        self.rows: dict[FigureKey, FigureRow] = {}

    def add(self, events: Sequence[RecordedEvent]) -> dict[str, list[tuple[object, ...]]]:
        """Fold a page in; nothing to write yet."""
        fold_figures(events, self.rows)
        return {}

    def finish(self) -> dict[str, list[tuple[object, ...]]]:
        """Every figure's row, in table order."""
        return {"figures": [_values(row) for row in self.rows.values()]}


class FiguresProjection:
    """Monthly figures as known now, with how often each month was published."""

    name = "figures"
    tables = ("figures",)
    types = FIGURE_TYPES

    def ddl(self, tables: Mapping[str, str]) -> list[str]:
        """The statements that create this projection's tables under the given names."""
        return [statement.format(figures=tables["figures"]) for statement in FIGURES_DDL]

    async def apply(
        self,
        connection: PoolConnectionProxy[asyncpg.Record],
        events: Sequence[RecordedEvent],
        tables: Mapping[str, str],
    ) -> None:
        """Upsert the figures that `events` publish, in one statement."""
        rows = fold_figures(events)
        if not rows:
            return
        columns = list(zip(*(_values(row) for row in rows), strict=True))
        await connection.execute(UPSERT_FIGURES.format(figures=tables["figures"]), *columns)

    def loader(self) -> FiguresLoader:
        """An in-memory builder of the fresh table, for a rebuild."""
        return FiguresLoader()


def _values(row: FigureRow) -> tuple[object, ...]:
    """`row` in the column order of `UPSERT_FIGURES`; an upsert onto an existing row adds one
    for the batch's first publication, which is then a revision too."""
    return (
        row.jobcenter_id, row.indicator, row.breakdown, row.period, row.value, row.numerator,
        row.denominator, row.status, row.revision_count, row.position, row.recorded_at,
        row.last_reason,
    )  # fmt: skip


FIGURES = FiguresProjection()
