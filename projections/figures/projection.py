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

The row rule and the flags are `projections.figures.calculation`'s, used alike by `apply` here
and by the rebuild (`projections.figures.rebuild`), so that the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.catalogue import FIGURE_TYPES
from events.log import RecordedEvent
from projections.engine.rebuild import Rebuild
from projections.figures.calculation import (
    Amounts,
    FigureRow,
    flags_by_key,
    fold_figures,
    row_values,
)
from projections.figures.rebuild import REBUILD

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
       f.occurred_at, f.flags
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


class FiguresProjection:
    """Monthly figures as known now, with how often each month was published."""

    name = "figures"
    version = 2
    """Raised with every change of its tables or its fold: the projector then rebuilds it."""
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
        columns = list(zip(*(row_values(row) for row in rows), strict=True))
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
            (key, Amounts(r["value"], r["numerator"], r["denominator"], r["occurred_at"]))
            for key, r in zip(current, found, strict=True)
        )
        changed = [(*key, ",".join(new)) for key, new in flags.items() if new != current[key]]
        if changed:
            await connection.execute(
                UPDATE_FLAGS.format(figures=table),
                *(list(column) for column in zip(*changed, strict=True)),
            )

    def rebuild(self) -> Rebuild:
        """A few jobcenters' figures folded in memory at a time (`projections.figures.rebuild`)."""
        return REBUILD


FIGURES = FiguresProjection()
