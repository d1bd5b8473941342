"""The comparison types' tables of the "key_figures" projection, kept live (docs/domain.md,
section 11): each (jobcenter, year)'s latest `ComparisonTypeAssigned` in `comparison_types`;
per type, key figure, breakdown and month the statistics in `comparison_type_statistics` and
each member's rank in `comparison_type_ranks`, computed by the pure `comparison.type_rows`.

Invariant: after a page, every group (type, code, breakdown, period) whose members or values may
have changed is recomputed whole from the tables: the group of each key figure the page changed
or dropped, and, for a jobcenter whose type for a year the page assigned, every group of its old
type that year and the groups of its new type it joins; a group left without members has no
rows. So the rows are a function of the key figures and the assignments in force, as the
rebuild computes them once at the end (`rebuild.KeyFiguresRebuild`).
"""

from collections.abc import Mapping, Sequence

import asyncpg

from events.log import RecordedEvent
from projections.engine.rebuild import Connection, columns, copy
from projections.key_figures.comparison import Group, TypeKey, type_rows
from projections.key_figures.rebuild import assignments

TYPES_DDL = (
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
)
TYPES_INDEXES = (
    "CREATE INDEX comparison_types_type_idx ON {comparison_types} "
    "(typology, typology_version, type_code, year)",
    "CREATE INDEX comparison_type_ranks_group_idx ON {comparison_type_ranks} "
    "(typology, typology_version, type_code, code, breakdown, period)",
)
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


async def recompare(
    connection: Connection,
    changed: Sequence[FigureKey],
    events: Sequence[RecordedEvent],
    tables: Mapping[str, str],
) -> None:
    """Keep the assignments among `events`, then recompute every comparison group they or the
    `changed` key figures touch."""
    await _recompare(connection, changed, await _assign(connection, events, tables), tables)


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
    for r in await connection.fetch(SELECT_TYPES_OF.format(**tables), *columns(keys)):
        before[(r["jobcenter_id"], r["year"])] = _type_of(r)
    await connection.execute(UPSERT_TYPES.format(**tables), *columns(rows))
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
        found = await connection.fetch(SELECT_TYPE_GROUPS.format(**tables), *columns(left))
        groups |= {_group_of(r) for r in found}
    touched = set(figures)
    if assigned:
        years = [(jobcenter_id, f"{year:04d}") for jobcenter_id, year in assigned]
        found = await connection.fetch(SELECT_FIGURES_OF.format(**tables), *columns(years))
        touched |= {(r["jobcenter_id"], r["code"], r["breakdown"], r["period"]) for r in found}
    if touched:
        wanted = sorted({(key[0], int(key[3][:4])) for key in touched})
        types = {
            (r["jobcenter_id"], r["year"]): _type_of(r)
            for r in await connection.fetch(SELECT_TYPES_OF.format(**tables), *columns(wanted))
        }
        for jobcenter_id, code, breakdown, period in touched:
            now = types.get((jobcenter_id, int(period[:4])))
            if now is not None:
                groups.add((*now, code, breakdown, period))
    if not groups:
        return
    group_columns = columns(sorted(groups))
    members = await connection.fetch(SELECT_MEMBERS.format(**tables), *group_columns)
    statistics, ranks = type_rows((_group_of(r), r["jobcenter_id"], r["value"]) for r in members)
    await connection.execute(DELETE_STATISTICS.format(**tables), *group_columns)
    await connection.execute(DELETE_RANKS.format(**tables), *group_columns)
    await copy(connection, tables, {"comparison_type_statistics": statistics,
                                    "comparison_type_ranks": ranks})  # fmt: skip


def _type_of(row: asyncpg.Record) -> TypeKey:
    return row["typology"], row["typology_version"], row["type_code"]


def _group_of(row: asyncpg.Record) -> Group:
    return (*_type_of(row), row["code"], row["breakdown"], row["period"])
