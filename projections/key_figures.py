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
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING

from events.catalogue import FIGURE_TYPES, FigureEvent
from events.store import RecordedEvent
from projections.decoded import stored_data
from projections.runner import Connection

if TYPE_CHECKING:
    from projections.key_figures_loader import KeyFiguresLoader

BASE_SERIES = frozenset({"integrations", "elb_stock", "ltb_stock", "llu_eur"})
CODES = ("k1", "k1e2", "k2", "k3")
CHANGES = {"k1": "llu_eur", "k1e2": "elb_stock", "k3": "ltb_stock"}
"""Key figures that compare a series' month with the same month a year earlier."""
Series = Mapping[tuple[str, str], Decimal]
"""(indicator, period) -> value, for one jobcenter and breakdown."""
KeyFigure = tuple[Decimal, Decimal, Decimal]
"""(value, numerator, denominator)."""
Key = tuple[str, str, str, str]
"""(jobcenter_id, indicator, breakdown, period) of a base month."""

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
    "CREATE INDEX key_figures_code_period_idx ON {key_figures} (code, period)",
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


@functools.cache  # a few thousand months at most; called ~40 times per recomputed figure
def shift(period: str, months: int) -> str:
    """`period` ("YYYY-MM") moved by `months`."""
    index = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def affected(indicator: str, period: str) -> list[tuple[str, str]]:
    """The (code, period) key figures a month of a base series enters."""
    return list(_affected(indicator, period))


@functools.cache
def _affected(indicator: str, period: str) -> tuple[tuple[str, str], ...]:
    found = []
    if indicator == "integrations":
        found += [("k2", shift(period, n)) for n in range(12)]
    if indicator == "elb_stock":
        found += [("k2", shift(period, n)) for n in range(1, 13)]
    codes = [code for code, series in CHANGES.items() if series == indicator]
    return (*found, *[(code, month) for code in codes for month in (period, shift(period, 12))])


def inputs(code: str, period: str) -> list[tuple[str, str]]:
    """The base months (indicator, period) key figure `code` of `period` is computed from:
    K2 the 12 months of integrations, then the 12 stocks a month earlier; a change the month,
    then the same month a year earlier."""
    return list(_inputs(code, period))


@functools.cache
def _inputs(code: str, period: str) -> tuple[tuple[str, str], ...]:
    if code == "k2":
        months = [shift(period, -n) for n in range(11, -1, -1)]
        earlier = [("elb_stock", shift(m, -1)) for m in months]
        return (*[("integrations", m) for m in months], *earlier)
    return ((CHANGES[code], period), (CHANGES[code], shift(period, -12)))


def value_of(code: str, numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """The key figure's value (percent, 2 decimals) from its numerator and denominator (or
    from the sums of several jobcenters'); None for a zero denominator."""
    if denominator == 0:
        return None
    with localcontext() as context:
        context.prec = 28
        ratio = numerator / denominator
        return _rounded(ratio * 100 if code == "k2" else (ratio - 1) * 100)


def compute(code: str, period: str, series: Series) -> KeyFigure | None:
    """Key figure `code` for `period` from one jobcenter's and breakdown's base series; None
    when a month it needs is missing or its divisor is zero."""
    found = [series.get(month) for month in _inputs(code, period)]
    values = [value for value in found if value is not None]
    if len(values) < len(found):
        return None
    with localcontext() as context:
        context.prec = 28
        if code == "k2":
            numerator, denominator = sum(values[:12], Decimal(0)), sum(values[12:], Decimal(0)) / 12
        else:
            numerator, denominator = values
    value = value_of(code, numerator, denominator)
    return None if value is None else (value, numerator, denominator)


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class KeyFiguresProjection:
    """§ 48a key figures K1, K1E2, K2, K3 from the base series, per jobcenter, breakdown and
    month."""

    name = "key_figures"
    tables = ("key_figure_series", "key_figures")
    types = FIGURE_TYPES

    ddl = KEY_FIGURES_DDL

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> None:
        """Keep the base series' vintages in force, then recompute the key figures whose
        months changed."""
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
            return
        rows = [(*key, value, at, position) for key, (at, position, value) in latest.items()]
        changed = await connection.fetch(UPSERT_SERIES.format(**tables), *_columns(rows))
        in_force = {
            (r["jobcenter_id"], r["indicator"], r["breakdown"], r["period"]): r["position"]
            for r in changed
        }
        if in_force:
            await self._recompute(connection, in_force, tables)

    @staticmethod
    async def _recompute(
        connection: Connection,
        changed: Mapping[Key, int],
        tables: Mapping[str, str],
    ) -> None:
        todo: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        for (jobcenter_id, indicator, breakdown, period), position in changed.items():
            wanted = todo.setdefault((jobcenter_id, breakdown), {})
            for target in _affected(indicator, period):
                wanted[target] = max(wanted.get(target, 0), position)
        groups = list(todo)
        found = await connection.fetch(SELECT_SERIES.format(**tables), *_columns(groups))
        series: dict[tuple[str, str], dict[tuple[str, str], Decimal]] = {}
        for r in found:
            group = series.setdefault((r["jobcenter_id"], r["breakdown"]), {})
            group[(r["indicator"], r["period"])] = r["value"]
        upserts, deletes = [], []
        for (jobcenter_id, breakdown), wanted in todo.items():
            for (code, period), position in wanted.items():
                result = compute(code, period, series.get((jobcenter_id, breakdown), {}))
                key = (jobcenter_id, code, breakdown, period)
                if result is None:
                    deletes.append(key)
                else:
                    upserts.append((*key, *result, position))
        if upserts:
            await connection.execute(UPSERT_KEY_FIGURES.format(**tables), *_columns(upserts))
        if deletes:
            await connection.execute(DELETE_KEY_FIGURES.format(**tables), *_columns(deletes))

    def loader(self) -> KeyFiguresLoader:
        """An in-memory builder of the fresh tables, a few jobcenters at a time."""
        from projections.key_figures_loader import KeyFiguresLoader  # it builds on this module

        return KeyFiguresLoader()


def _columns(rows: Sequence[tuple[object, ...]]) -> list[list[object]]:
    """Rows as one list per column, for `unnest`."""
    return [list(column) for column in zip(*rows, strict=True)]


KEY_FIGURES = KeyFiguresProjection()
