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
figures: `projections.key_figures.comparison_types` keeps their three tables after each page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from events.catalogue import FIGURE_TYPES, ComparisonTypeAssigned, FigureEvent
from events.log import RecordedEvent
from projections.engine.decoded import stored_data
from projections.engine.rebuild import Connection, Rebuild, columns
from projections.key_figures.calculation import BASE_SERIES, Key, affected, compute, shift
from projections.key_figures.comparison_types import TYPES_DDL, TYPES_INDEXES, FigureKey, recompare
from projections.key_figures.rebuild import REBUILD

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
    *TYPES_DDL,
    "CREATE INDEX key_figures_code_period_idx ON {key_figures} (code, period)",
    *TYPES_INDEXES,
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
JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS g(jobcenter_id, breakdown, first,
                                                                 last)
    USING (jobcenter_id, breakdown)
WHERE s.period BETWEEN g.first AND g.last
"""
"""The base months of each (jobcenter, breakdown) from `first` to `last` ("YYYY-MM")."""
INPUT_SPAN = 12
"""A key figure's inputs lie at most this many months before its period (`calculation.inputs`)."""
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
        await recompare(connection, changed, assigned, tables)

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
        changed = await connection.fetch(UPSERT_SERIES.format(**tables), *columns(rows))
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
        groups = [
            (*group, shift(min(period for _, period in wanted), -INPUT_SPAN),
             max(period for _, period in wanted))
            for group, wanted in todo.items()
        ]  # fmt: skip
        found = await connection.fetch(SELECT_SERIES.format(**tables), *columns(groups))
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
            await connection.execute(UPSERT_KEY_FIGURES.format(**tables), *columns(upserts))
        if deletes:
            await connection.execute(DELETE_KEY_FIGURES.format(**tables), *columns(deletes))
        return touched

    def rebuild(self) -> Rebuild:
        """Each jobcenter's base series folded in memory (`projections.key_figures.rebuild`)."""
        return REBUILD


KEY_FIGURES = KeyFiguresProjection()
