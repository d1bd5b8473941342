"""The "key_figures" projection: § 48a key figures computed from the base series, per
jobcenter, breakdown and month (docs/domain.md, section 3.1):

- K2, integration quota: 100 * integrations of the 12 months up to the month / the mean ELB
  stock of the month before each of them (months t-12 .. t-1);
- K3, change of the LZB stock: 100 * (the month's `ltb_stock` / the same month a year earlier - 1);
- K1, change of subsistence benefits: 100 * (the month's `llu_eur` / the same month a year
  earlier - 1);
- K1E2, change of the ELB stock: 100 * (the month's `elb_stock` / the same month a year
  earlier - 1).

Invariants: the projection keeps its own copy of the base series (`key_figure_series`: the
vintage in force of each month of `integrations`, `elb_stock`, `ltb_stock`, `llu_eur`, i.e. the
latest published one: greatest envelope `occurred_at`, then position), so it depends on no other
projection; after a batch it recomputes every key figure a month whose vintage in force changed
enters (`affected`) from that copy with the pure `compute`, and drops one that can no longer be
computed (a month missing, a zero divisor). A vintage published before the one in force (history
loaded late) changes nothing. Exact decimals; `value` is rounded half up to 2 decimals,
numerator and denominator are exact. `position` is the last event that changed it. Aggregates
per Land and for Germany are summed at query time (`value_of` on the sums).

Comparison types (docs/domain.md, section 11) live here too, as they are read against the key
figures: `comparison_types` holds the latest recorded `ComparisonTypeAssigned` of each
(jobcenter, year); `comparison_type_statistics` the count, minimum, quartiles, median and
maximum of each type's key figure, breakdown and month over the jobcenters of the type that year
that have it; `comparison_type_ranks` each member's rank there. After a batch every group
(type, code, breakdown, period) whose members or values may have changed is recomputed whole
with the pure `comparison.type_rows`: the group of a changed or dropped key figure, and, for a
jobcenter whose type for a year changed, every group of its old type that year and the groups of
its new type it joins. A group left without members disappears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from events.catalogue import FIGURE_TYPES, ComparisonTypeAssigned, FigureEvent
from events.log import RecordedEvent
from projections.engine.decoded import stored_data
from projections.engine.rebuild import Connection, Rebuild, copy
from projections.key_figures.calculation import BASE_SERIES, Key, affected, compute
from projections.key_figures.comparison import Group, TypeKey, type_rows
from projections.key_figures.rebuild import REBUILD, assignments

KEY_FIGURES_DDL = (
    """
    CREATE TABLE {key_figure_series} (
        jobcenter_id text        NOT NULL,
        indicator    text        NOT NULL,
        breakdown    text        NOT NULL,
        period       text        NOT NULL,
        value        numeric     NOT NULL,
        occurred_at  timestamptz NOT NULL,
        position     bigint      NOT NULL,
        PRIMARY KEY (jobcenter_id, breakdown, indicator, period)
    )
    """,
    """
    CREATE TABLE {key_figures} (
        jobcenter_id text    NOT NULL,
        code         text    NOT NULL,
        breakdown    text    NOT NULL,
        period       text    NOT NULL,
        value        numeric NOT NULL,
        numerator    numeric NOT NULL,
        denominator  numeric NOT NULL,
        position     bigint  NOT NULL,
        PRIMARY KEY (jobcenter_id, code, breakdown, period)
    )
    """,
    """
    CREATE TABLE {comparison_types} (
        jobcenter_id     text    NOT NULL,
        year             integer NOT NULL,
        type_code        text    NOT NULL,
        type_name        text    NOT NULL,
        typology         text    NOT NULL,
        typology_version text    NOT NULL,
        position         bigint  NOT NULL,
        PRIMARY KEY (jobcenter_id, year)
    )
    """,
    """
    CREATE TABLE {comparison_type_statistics} (
        typology         text    NOT NULL,
        typology_version text    NOT NULL,
        type_code        text    NOT NULL,
        code             text    NOT NULL,
        breakdown        text    NOT NULL,
        period           text    NOT NULL,
        jobcenters       integer NOT NULL,
        minimum          numeric NOT NULL,
        lower_quartile   numeric NOT NULL,
        median           numeric NOT NULL,
        upper_quartile   numeric NOT NULL,
        maximum          numeric NOT NULL,
        PRIMARY KEY (typology, typology_version, type_code, code, breakdown, period)
    )
    """,
    """
    CREATE TABLE {comparison_type_ranks} (
        jobcenter_id     text    NOT NULL,
        code             text    NOT NULL,
        breakdown        text    NOT NULL,
        period           text    NOT NULL,
        typology         text    NOT NULL,
        typology_version text    NOT NULL,
        type_code        text    NOT NULL,
        rank             integer NOT NULL,
        PRIMARY KEY (jobcenter_id, code, breakdown, period)
    )
    """,
    "CREATE INDEX key_figures_code_period_idx ON {key_figures} (code, period)",
    "CREATE INDEX comparison_types_type_idx ON {comparison_types} "
    "(typology, typology_version, type_code, year)",
    "CREATE INDEX comparison_type_ranks_group_idx ON {comparison_type_ranks} "
    "(typology, typology_version, type_code, code, breakdown, period)",
)
UPSERT_SERIES = """
INSERT INTO {key_figure_series} AS s (
    jobcenter_id, indicator, breakdown, period, value, occurred_at, position
)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[],
                     $6::timestamptz[], $7::bigint[])
ON CONFLICT (jobcenter_id, breakdown, indicator, period) DO UPDATE SET
    value = EXCLUDED.value, occurred_at = EXCLUDED.occurred_at, position = EXCLUDED.position
WHERE (EXCLUDED.occurred_at, EXCLUDED.position) > (s.occurred_at, s.position)
RETURNING jobcenter_id, indicator, breakdown, period, position
"""
SELECT_SERIES = """
SELECT s.jobcenter_id, s.breakdown, s.indicator, s.period, s.value
FROM {key_figure_series} AS s
JOIN unnest($1::text[], $2::text[]) AS g(jobcenter_id, breakdown) USING (jobcenter_id, breakdown)
"""
UPSERT_KEY_FIGURES = """
INSERT INTO {key_figures} AS k (
    jobcenter_id, code, breakdown, period, value, numerator, denominator, position
)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[],
                     $6::numeric[], $7::numeric[], $8::bigint[])
ON CONFLICT (jobcenter_id, code, breakdown, period) DO UPDATE SET
    value = EXCLUDED.value, numerator = EXCLUDED.numerator,
    denominator = EXCLUDED.denominator, position = EXCLUDED.position
"""
DELETE_KEY_FIGURES = """
DELETE FROM {key_figures} AS k
USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(jobcenter_id, code, breakdown,
                                                                  period)
WHERE (k.jobcenter_id, k.code, k.breakdown, k.period)
    = (d.jobcenter_id, d.code, d.breakdown, d.period)
"""


UPSERT_TYPES = """
INSERT INTO {comparison_types} AS c (
    jobcenter_id, year, type_code, type_name, typology, typology_version, position
)
SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[])
ON CONFLICT (jobcenter_id, year) DO UPDATE SET
    type_code = EXCLUDED.type_code, type_name = EXCLUDED.type_name,
    typology = EXCLUDED.typology, typology_version = EXCLUDED.typology_version,
    position = EXCLUDED.position
WHERE EXCLUDED.position > c.position
"""
SELECT_TYPES_OF = """
SELECT c.jobcenter_id, c.year, c.typology, c.typology_version, c.type_code
FROM {comparison_types} AS c
JOIN unnest($1::text[], $2::integer[]) AS w(jobcenter_id, year) USING (jobcenter_id, year)
"""
SELECT_TYPE_GROUPS = """
SELECT s.typology, s.typology_version, s.type_code, s.code, s.breakdown, s.period
FROM {comparison_type_statistics} AS s
JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w(typology, typology_version,
                                                                 type_code, year)
    USING (typology, typology_version, type_code)
WHERE s.period LIKE w.year || '-%'
"""
"""Every group of the given types in the given years (the groups a leaving member was in)."""
SELECT_FIGURES_OF = """
SELECT k.jobcenter_id, k.code, k.breakdown, k.period
FROM {key_figures} AS k
JOIN unnest($1::text[], $2::text[]) AS w(jobcenter_id, year) USING (jobcenter_id)
WHERE k.period LIKE w.year || '-%'
"""
SELECT_MEMBERS = """
SELECT g.typology, g.typology_version, g.type_code, g.code, g.breakdown, g.period,
       k.jobcenter_id, k.value
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS g(typology, typology_version, type_code, code, breakdown, period)
JOIN {comparison_types} AS c
    ON (c.typology, c.typology_version, c.type_code) = (g.typology, g.typology_version, g.type_code)
   AND c.year = substr(g.period, 1, 4)::integer
JOIN {key_figures} AS k
    ON (k.jobcenter_id, k.code, k.breakdown, k.period) = (c.jobcenter_id, g.code, g.breakdown,
                                                          g.period)
"""
DELETE_STATISTICS = """
DELETE FROM {comparison_type_statistics} AS s
USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS g(typology, typology_version, type_code, code, breakdown, period)
WHERE (s.typology, s.typology_version, s.type_code, s.code, s.breakdown, s.period)
    = (g.typology, g.typology_version, g.type_code, g.code, g.breakdown, g.period)
"""
DELETE_RANKS = """
DELETE FROM {comparison_type_ranks} AS r
USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS g(typology, typology_version, type_code, code, breakdown, period)
WHERE (r.typology, r.typology_version, r.type_code, r.code, r.breakdown, r.period)
    = (g.typology, g.typology_version, g.type_code, g.code, g.breakdown, g.period)
"""
FigureKey = tuple[str, str, str, str]
"""(jobcenter_id, code, breakdown, period) of a key figure."""


class KeyFiguresProjection:
    """§ 48a key figures K1, K1E2, K2, K3 from the base series, per jobcenter, breakdown and
    month."""

    name = "key_figures"
    version = 2
    """Raised with every change of its tables or its fold: the projector then rebuilds it."""
    tables = (
        "key_figure_series", "key_figures", "comparison_types", "comparison_type_statistics",
        "comparison_type_ranks",
    )  # fmt: skip
    types = FIGURE_TYPES | {ComparisonTypeAssigned.event_type}

    ddl = KEY_FIGURES_DDL

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> None:
        """Keep the base series' vintages in force and recompute the key figures whose months
        changed; keep the comparison types assigned; recompute the comparison groups either
        touched."""
        changed = await self._apply_figures(connection, events, tables)
        assigned = [e for e in events if e.type == ComparisonTypeAssigned.event_type]
        await _recompare(connection, changed, await _assign(connection, assigned, tables), tables)

    async def _apply_figures(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> list[FigureKey]:
        """The base series' vintages in force, the key figures recomputed; those that changed
        or were dropped."""
        latest: dict[Key, tuple[datetime, int, Decimal]] = {}
        for recorded in events:
            if recorded.type not in FIGURE_TYPES or recorded.data["indicator"] not in BASE_SERIES:
                continue
            figure = stored_data(recorded)
            assert isinstance(figure, FigureEvent)
            key = (figure.jobcenter_id, figure.indicator, figure.breakdown, figure.period)
            vintage = (recorded.occurred_at, recorded.position, figure.value)
            if key not in latest or vintage[:2] > latest[key][:2]:
                latest[key] = vintage
        if not latest:
            return []
        rows = [(*key, value, at, position) for key, (at, position, value) in latest.items()]
        changed = await connection.fetch(UPSERT_SERIES.format(**tables), *_columns(rows))
        in_force = {
            (r["jobcenter_id"], r["indicator"], r["breakdown"], r["period"]): r["position"]
            for r in changed
        }
        return await self._recompute(connection, in_force, tables) if in_force else []

    @staticmethod
    async def _recompute(
        connection: Connection,
        changed: Mapping[Key, int],
        tables: Mapping[str, str],
    ) -> list[FigureKey]:
        todo: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        for (jobcenter_id, indicator, breakdown, period), position in changed.items():
            wanted = todo.setdefault((jobcenter_id, breakdown), {})
            for target in affected(indicator, period):
                wanted[target] = max(wanted.get(target, 0), position)
        groups = list(todo)
        found = await connection.fetch(SELECT_SERIES.format(**tables), *_columns(groups))
        series: dict[tuple[str, str], dict[tuple[str, str], Decimal]] = {}
        for r in found:
            group = series.setdefault((r["jobcenter_id"], r["breakdown"]), {})
            group[(r["indicator"], r["period"])] = r["value"]
        upserts: list[tuple[object, ...]] = []
        deletes: list[FigureKey] = []
        touched: list[FigureKey] = []
        for (jobcenter_id, breakdown), wanted in todo.items():
            for (code, period), position in wanted.items():
                result = compute(code, period, series.get((jobcenter_id, breakdown), {}))
                key = (jobcenter_id, code, breakdown, period)
                touched.append(key)
                if result is None:
                    deletes.append(key)
                else:
                    upserts.append((*key, *result, position))
        if upserts:
            await connection.execute(UPSERT_KEY_FIGURES.format(**tables), *_columns(upserts))
        if deletes:
            await connection.execute(DELETE_KEY_FIGURES.format(**tables), *_columns(deletes))
        return touched

    def rebuild(self) -> Rebuild:
        """Each jobcenter's base series folded in memory (`projections.key_figures.rebuild`)."""
        return REBUILD


async def _assign(
    connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
) -> dict[tuple[str, int], TypeKey | None]:
    """Keep each (jobcenter, year)'s latest assignment; for each one assigned, the type it had
    before (None: none)."""
    rows = assignments(events)
    if not rows:
        return {}
    keys = [(row[0], row[1]) for row in rows]
    before: dict[tuple[str, int], TypeKey | None] = dict.fromkeys(keys)
    for r in await connection.fetch(SELECT_TYPES_OF.format(**tables), *_columns(keys)):
        before[(r["jobcenter_id"], r["year"])] = _type_of(r)
    await connection.execute(UPSERT_TYPES.format(**tables), *_columns(rows))
    return before


async def _recompare(
    connection: Connection,
    figures: Sequence[FigureKey],
    assigned: Mapping[tuple[str, int], TypeKey | None],
    tables: Mapping[str, str],
) -> None:
    """Recompute every comparison group a changed key figure or assignment touches."""
    if not figures and not assigned:
        return
    groups: set[Group] = set()
    left = [(*was, f"{year:04d}") for (_, year), was in assigned.items() if was]
    if left:
        found = await connection.fetch(SELECT_TYPE_GROUPS.format(**tables), *_columns(left))
        groups |= {_group_of(r) for r in found}
    touched = set(figures)
    if assigned:
        years = [(jobcenter_id, f"{year:04d}") for jobcenter_id, year in assigned]
        found = await connection.fetch(SELECT_FIGURES_OF.format(**tables), *_columns(years))
        touched |= {(r["jobcenter_id"], r["code"], r["breakdown"], r["period"]) for r in found}
    if touched:
        wanted = sorted({(key[0], int(key[3][:4])) for key in touched})
        types = {
            (r["jobcenter_id"], r["year"]): _type_of(r)
            for r in await connection.fetch(SELECT_TYPES_OF.format(**tables), *_columns(wanted))
        }
        for jobcenter_id, code, breakdown, period in touched:
            now = types.get((jobcenter_id, int(period[:4])))
            if now is not None:
                groups.add((*now, code, breakdown, period))
    if not groups:
        return
    columns = _columns(sorted(groups))
    members = await connection.fetch(SELECT_MEMBERS.format(**tables), *columns)
    statistics, ranks = type_rows((_group_of(r), r["jobcenter_id"], r["value"]) for r in members)
    await connection.execute(DELETE_STATISTICS.format(**tables), *columns)
    await connection.execute(DELETE_RANKS.format(**tables), *columns)
    await copy(connection, tables, {"comparison_type_statistics": statistics,
                                    "comparison_type_ranks": ranks})  # fmt: skip


def _type_of(row: asyncpg.Record) -> TypeKey:
    return row["typology"], row["typology_version"], row["type_code"]


def _group_of(row: asyncpg.Record) -> Group:
    return (*_type_of(row), row["code"], row["breakdown"], row["period"])


def _columns(rows: Sequence[tuple[object, ...]]) -> list[list[object]]:
    """Rows as one list per column, for `unnest`."""
    return [list(column) for column in zip(*rows, strict=True)]


KEY_FIGURES = KeyFiguresProjection()
