"""The "figures" projection: monthly figures as known now, one row per (jobcenter, series, month).

Invariants: the publication in force of a (jobcenter_id, indicator, breakdown, period) sets the
row, whether a report or a correction: the one the source published last, by the envelope's
`occurred_at`, ties broken by the higher position. So a report recorded after its correction (a
retried batch, history loaded out of order) never overrides it: the row does not depend on the
order in which the publications were recorded, and a rebuild gives the live fold's rows.
`revision_count` counts the publications of that month after the first, whatever their order
(0 for a month published once); `position`, `recorded_at`, `occurred_at` and `last_reason` name
the publication in force. `flags` are consistency findings (never a rejection), recomputed by
`group_flags` for every (jobcenter_id, indicator, period) a batch touches from the rows in force
then, so a total row is re-flagged when a women or men row arrives later and the other way
round; a rebuild computes them from the same function.

Its size: the row rule, the consistency flags and both ways of writing them (the live apply and
the rebuild's loader) sit together so that the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.catalogue import FIGURE_TYPES, FigureEvent, MonthlyFigureCorrected
from events.indicators import known_indicator
from events.store import RecordedEvent
from projections.decoded import stored_data
from projections.rebuild_reading import Group, join_groups, stream_keys, trusted_figure

FigureKey = tuple[str, str, str, str]
"""(jobcenter_id, indicator, breakdown, period)."""
Decode = Callable[[RecordedEvent], FigureEvent]
"""How a figure event's data is read: validated (live), or trusted (a rebuild's stored rows)."""
GroupKey = tuple[str, str, str]
"""(jobcenter_id, indicator, period): a total and its parts."""

BREAKDOWN_SUM_EXCEEDS_TOTAL = "breakdown_sum_exceeds_total"
FRACTION_MISSING = "fraction_missing"
TOTAL = "total"
PARTS = ("women", "men")
ADDITIVE = frozenset({"sum", "mean"})
"""Default aggregations of series whose values add up over a breakdown (counts, stocks, EUR)."""

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
        occurred_at    timestamptz NOT NULL,
        last_reason    text,
        flags          text[]      NOT NULL DEFAULT '{{}}',
        PRIMARY KEY (jobcenter_id, indicator, breakdown, period)
    )
    """,
    "CREATE INDEX figures_jobcenter_indicator_period_idx"
    " ON {figures} (jobcenter_id, indicator, period)",
)
IN_FORCE_COLUMNS = ("value", "numerator", "denominator", "status", "position", "recorded_at",
                    "occurred_at", "last_reason")  # fmt: skip
"""The columns the publication in force sets (the others: the key, the count, the flags)."""
NEWER = "(EXCLUDED.occurred_at, EXCLUDED.position) > (f.occurred_at, f.position)"
"""Whether the batch's publication in force was published after the row's (see the docstring)."""
SET_IN_FORCE = ",\n    ".join(
    f"{column} = CASE WHEN {NEWER} THEN EXCLUDED.{column} ELSE f.{column} END"
    for column in IN_FORCE_COLUMNS
)
UPSERT_FIGURES = f"""
INSERT INTO {{figures}} AS f (
    jobcenter_id, indicator, breakdown, period, value, numerator, denominator, status,
    revision_count, position, recorded_at, occurred_at, last_reason
)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::numeric[],
    $7::numeric[], $8::text[], $9::integer[], $10::bigint[], $11::timestamptz[],
    $12::timestamptz[], $13::text[]
)
ON CONFLICT (jobcenter_id, indicator, breakdown, period) DO UPDATE SET
    revision_count = f.revision_count + EXCLUDED.revision_count + 1,
    {SET_IN_FORCE}
"""
SELECT_GROUPS = """
SELECT f.jobcenter_id, f.indicator, f.period, f.breakdown, f.value, f.numerator, f.denominator,
       f.flags
FROM {figures} AS f
JOIN unnest($1::text[], $2::text[], $3::text[]) AS g(jobcenter_id, indicator, period)
  USING (jobcenter_id, indicator, period)
"""
UPDATE_FLAGS = """
UPDATE {figures} AS f SET flags = string_to_array(u.flags, ',')
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
  AS u(jobcenter_id, indicator, breakdown, period, flags)
WHERE (f.jobcenter_id, f.indicator, f.breakdown, f.period)
    = (u.jobcenter_id, u.indicator, u.breakdown, u.period)
"""


@dataclass(frozen=True)
class FigureRow:
    """The change one batch makes to one figure: its publication in force and how many it saw."""

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
    occurred_at: datetime
    last_reason: str | None

    @property
    def revision_count(self) -> int:
        """The publications after the first one among those seen (0: published once)."""
        return self.publications - 1

    @property
    def published(self) -> tuple[datetime, int]:
        """The publication order: the source's `occurred_at`, then the position."""
        return self.occurred_at, self.position


def decode_figure(event: RecordedEvent) -> FigureEvent:
    """The typed data of a figure publication, decoded once per process (`stored_data`)."""
    figure = stored_data(event)
    assert isinstance(figure, FigureEvent)  # FIGURE_TYPES decode to figure events
    return figure


def figure_row(event: RecordedEvent, decode: Decode = decode_figure) -> FigureRow:
    """The row one figure publication sets (counting as one publication)."""
    figure = decode(event)
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
        occurred_at=event.occurred_at,
        last_reason=figure.reason if isinstance(figure, MonthlyFigureCorrected) else None,
    )


def fold_figures(
    events: Iterable[RecordedEvent],
    rows: dict[FigureKey, FigureRow] | None = None,
    decode: Decode = decode_figure,
) -> list[FigureRow]:
    """One row per figure touched by `events`, folded into `rows` when given: the publication
    published last (`FigureRow.published`) is in force, `publications` counts them all; other
    types are ignored. The result does not depend on the order of `events`."""
    rows = {} if rows is None else rows
    for event in events:
        if event.type not in FIGURE_TYPES:
            continue
        row = figure_row(event, decode)
        key = (row.jobcenter_id, row.indicator, row.breakdown, row.period)
        seen = rows.get(key)
        if seen is None:
            rows[key] = row
        elif row.published > seen.published:
            rows[key] = replace(row, publications=seen.publications + 1)
        else:
            rows[key] = replace(seen, publications=seen.publications + 1)
    return list(rows.values())


@dataclass(frozen=True)
class Amounts:
    """What the flags look at in one figure row."""

    value: Decimal
    numerator: Decimal | None = None
    denominator: Decimal | None = None


def needs_fraction(indicator: str) -> bool:
    """Whether a figure of `indicator` is computed from a numerator and a denominator that its
    yearly aggregation needs: a known share, or a known quota."""
    known = known_indicator(indicator)
    return known is not None and (known.share or known.aggregation == "quota")


def group_flags(indicator: str, rows: Mapping[str, Amounts]) -> dict[str, list[str]]:
    """Breakdown -> the flags of each figure of one (jobcenter, indicator, period), given the
    figures in force by breakdown.

    - `fraction_missing` on any row without numerator or denominator where `needs_fraction`;
    - `breakdown_sum_exceeds_total` on the total row when the parts present (women, men) add up
      to more than the total: their values for an additive series (a known slug aggregated by
      `sum` or `mean`, or an unknown slug); their numerators or denominators (each where the
      total and every present part carry it) for a known rate, share, quota or change, whose
      values do not add up.
    """
    flags: dict[str, list[str]] = {breakdown: [] for breakdown in rows}
    if needs_fraction(indicator):
        for breakdown, amounts in rows.items():
            if amounts.numerator is None or amounts.denominator is None:
                flags[breakdown].append(FRACTION_MISSING)
    total = rows.get(TOTAL)
    parts = [rows[part] for part in PARTS if part in rows]
    if total is not None and parts and _parts_exceed(indicator, total, parts):
        flags[TOTAL].insert(0, BREAKDOWN_SUM_EXCEEDS_TOTAL)
    return flags


def _parts_exceed(indicator: str, total: Amounts, parts: list[Amounts]) -> bool:
    """Whether the parts add up to more than the total (see `group_flags`)."""
    known = known_indicator(indicator)
    if known is None or known.aggregation in ADDITIVE:
        return sum(part.value for part in parts) > total.value
    for field in ("numerator", "denominator"):
        whole: Decimal | None = getattr(total, field)
        amounts: list[Decimal | None] = [getattr(part, field) for part in parts]
        if whole is not None and None not in amounts and sum(a or 0 for a in amounts) > whole:
            return True
    return False


def flags_by_key(rows: Iterable[tuple[FigureKey, Amounts]]) -> dict[FigureKey, list[str]]:
    """The flags of every figure, given all figures in force of the groups they belong to."""
    groups: dict[GroupKey, dict[str, Amounts]] = {}
    for (jobcenter_id, indicator, breakdown, period), amounts in rows:
        groups.setdefault((jobcenter_id, indicator, period), {})[breakdown] = amounts
    return {
        (jobcenter_id, indicator, breakdown, period): found
        for (jobcenter_id, indicator, period), group in groups.items()
        for breakdown, found in group_flags(indicator, group).items()
    }


def _key(row: FigureRow) -> FigureKey:
    return (row.jobcenter_id, row.indicator, row.breakdown, row.period)


class FiguresLoader:
    """The figures of a rebuild, folded in memory: a few jobcenters' figure streams at a time
    (`groups`, `load`: a figure's row and flags depend on its jobcenter's figures only), or the
    whole log (`add`, then `finish`)."""

    def __init__(self) -> None:
        self.rows: dict[FigureKey, FigureRow] = {}

    condition = "true"

    async def groups(
        self, connection: PoolConnectionProxy[asyncpg.Record], until: int
    ) -> list[Group]:
        """The figure streams of each jobcenter (one, as the store records them)."""
        streams = await stream_keys(connection, until, FIGURE_TYPES, "jobcenter_id")
        return join_groups(streams.keys, streams.sizes)

    def load(self, events: Sequence[RecordedEvent]) -> dict[str, list[tuple[object, ...]]]:
        """The rows, with their flags, of the figure streams `events` are all of."""
        rows: dict[FigureKey, FigureRow] = {}
        fold_figures(events, rows, trusted_figure)
        return {"figures": _flagged(rows)}

    def add(self, events: Sequence[RecordedEvent]) -> dict[str, list[tuple[object, ...]]]:
        """Fold a page in; nothing to write yet."""
        fold_figures(events, self.rows, trusted_figure)
        return {}

    def finish(self) -> dict[str, list[tuple[object, ...]]]:
        """Every figure's row with its flags, in table order."""
        return {"figures": _flagged(self.rows)}


def _flagged(rows: Mapping[FigureKey, FigureRow]) -> list[tuple[object, ...]]:
    """Every row with its flags, in table order."""
    flags = flags_by_key(
        (key, Amounts(row.value, row.numerator, row.denominator)) for key, row in rows.items()
    )
    return [(*_values(row), flags[_key(row)]) for row in rows.values()]


class FiguresProjection:
    """Monthly figures as known now, with how often each month was published."""

    name = "figures"
    tables = ("figures",)
    types = FIGURE_TYPES
    ddl = FIGURES_DDL

    async def apply(
        self,
        connection: PoolConnectionProxy[asyncpg.Record],
        events: Sequence[RecordedEvent],
        tables: Mapping[str, str],
    ) -> None:
        """Upsert the figures that `events` publish, in one statement, then recompute the flags
        of every (jobcenter, indicator, period) they touch."""
        rows = fold_figures(events)
        if not rows:
            return
        columns = list(zip(*(_values(row) for row in rows), strict=True))
        await connection.execute(UPSERT_FIGURES.format(figures=tables["figures"]), *columns)
        await self._reflag(connection, rows, tables["figures"])

    @staticmethod
    async def _reflag(
        connection: PoolConnectionProxy[asyncpg.Record], rows: list[FigureRow], table: str
    ) -> None:
        """Recompute the flags of the groups `rows` belong to; write those that changed."""
        groups = list({(r.jobcenter_id, r.indicator, r.period) for r in rows})
        found = await connection.fetch(
            SELECT_GROUPS.format(figures=table),
            *(list(column) for column in zip(*groups, strict=True)),
        )
        current = {
            (r["jobcenter_id"], r["indicator"], r["breakdown"], r["period"]): list(r["flags"])
            for r in found
        }
        flags = flags_by_key(
            (key, Amounts(r["value"], r["numerator"], r["denominator"]))
            for key, r in zip(current, found, strict=True)
        )
        changed = [(*key, ",".join(new)) for key, new in flags.items() if new != current[key]]
        if changed:
            await connection.execute(
                UPDATE_FLAGS.format(figures=table),
                *(list(column) for column in zip(*changed, strict=True)),
            )

    def loader(self) -> FiguresLoader:
        """An in-memory builder of the fresh table, for a rebuild."""
        return FiguresLoader()


def _values(row: FigureRow) -> tuple[object, ...]:
    """`row` in the column order of `UPSERT_FIGURES`; an upsert onto an existing row adds one
    for the batch's first publication, which is then a revision too."""
    return (
        row.jobcenter_id, row.indicator, row.breakdown, row.period, row.value, row.numerator,
        row.denominator, row.status, row.revision_count, row.position, row.recorded_at,
        row.occurred_at, row.last_reason,
    )  # fmt: skip


FIGURES = FiguresProjection()
