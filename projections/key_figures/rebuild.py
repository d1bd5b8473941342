"""The key_figures projection's rebuild: each jobcenter's base series folded in memory, its key
figures computed once from them, both tables written by COPY.

Invariants: the rows equal those the projection's `apply` leaves after the same events, in any
pages: a base month's row is its vintage in force (greatest `occurred_at`, then position); a key
figure is `compute` over the months in force, kept when it can be computed, and its `position`
is the greatest position among the vintages in force of its input months (the last batch that
changed one of them set it, and it names the greatest such position, as `inputs` and `affected`
are each other's inverse). A key figure depends on one jobcenter's figures only, so the log is
read a few jobcenters' figure streams at a time. The comparison types come last, in one part:
every assignment's latest per (jobcenter, year), then every group's statistics and ranks
computed from the fresh key figures with the same pure `type_rows` as `apply`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from events.catalogue import FIGURE_TYPES, ComparisonTypeAssigned
from events.log import RecordedEvent
from events.store import EventStore
from events.trusted import trusted_figure
from projections.engine.decoded import stored_data
from projections.engine.rebuild import (
    EVERYTHING,
    Connection,
    GroupedBy,
    Groups,
    Part,
    Rows,
    Share,
    Stages,
    Tables,
    copy,
)
from projections.key_figures.calculation import BASE_SERIES, affected, compute, inputs
from projections.key_figures.comparison import type_rows

Month = tuple[str, str]
"""(indicator, period) of one jobcenter's and breakdown's base series."""
Vintage = tuple[datetime, int, Decimal]
"""(occurred_at, position, value) of a publication."""
affecting = cache(affected)
"""`affected`, remembered (its lists are only read)."""
needing = cache(inputs)
"""`inputs`, remembered (its lists are only read)."""


def fold(events: Sequence[RecordedEvent]) -> Rows:
    """The series and key figures of the jobcenters whose figure streams `events` are."""
    series: dict[tuple[str, str], dict[Month, Vintage]] = {}
    for recorded in events:
        if recorded.type not in FIGURE_TYPES or recorded.data["indicator"] not in BASE_SERIES:
            continue
        figure = trusted_figure(recorded)
        months = series.setdefault((figure.jobcenter_id, figure.breakdown), {})
        month = (figure.indicator, figure.period)
        vintage = (recorded.occurred_at, recorded.position, figure.value)
        if month not in months or vintage[:2] > months[month][:2]:
            months[month] = vintage
    base: list[tuple[object, ...]] = []
    figures: list[tuple[object, ...]] = []
    for (jobcenter_id, breakdown), months in series.items():
        base += [
            (jobcenter_id, indicator, breakdown, period, value, at, position)
            for (indicator, period), (at, position, value) in months.items()
        ]
        values = {month: vintage[2] for month, vintage in months.items()}
        wanted = {target for month in months for target in affecting(*month)}
        for code, period in sorted(wanted):
            result = compute(code, period, values)
            if result is not None:
                position = max(months[month][1] for month in needing(code, period))
                figures.append((jobcenter_id, code, breakdown, period, *result, position))
    return {"key_figure_series": base, "key_figures": figures}


SELECT_ALL_MEMBERS = """
SELECT c.typology, c.typology_version, c.type_code, k.code, k.breakdown, k.period,
       k.jobcenter_id, k.value
FROM {comparison_types} AS c
JOIN {key_figures} AS k
    ON k.jobcenter_id = c.jobcenter_id AND substr(k.period, 1, 4)::integer = c.year
"""
ASSIGNED = ComparisonTypeAssigned.event_type
Assignment = tuple[str, int, str, str, str, str, int]
"""A `comparison_types` row: jobcenter_id, year, type_code, type_name, typology,
typology_version, position."""


def assignments(events: Sequence[RecordedEvent]) -> list[Assignment]:
    """The `comparison_types` rows: each (jobcenter, year)'s latest assignment."""
    latest: dict[tuple[str, int], Assignment] = {}
    for recorded in events:
        event = stored_data(recorded)
        assert isinstance(event, ComparisonTypeAssigned)
        latest[(event.jobcenter_id, event.year)] = (
            event.jobcenter_id, event.year, event.type_code, event.type_name, event.typology,
            event.typology_version, recorded.position,
        )  # fmt: skip
    return list(latest.values())


@dataclass(frozen=True)
class KeyFiguresRebuild:
    """The base series and key figures by `figures`, then (a stage of its own, as it reads the
    key figures) the comparison types in one part."""

    figures: Groups

    async def stages(self, store: EventStore, until: int, shares: int) -> Stages:
        return [*await self.figures.stages(store, until, shares), [EVERYTHING]]

    async def parts(self, store: EventStore, until: int, share: Share) -> AsyncIterator[Part]:
        if share.groups:
            async for part in self.figures.parts(store, until, share):
                yield part
            return
        assigned: list[RecordedEvent] = []
        async for window, _ in store.windows([ASSIGNED], 0, until):
            assigned += window
        if assigned:
            yield assigned, until

    async def write(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        if not events or events[0].type != ASSIGNED:
            await self.figures.write(connection, events, tables)
            return
        await copy(connection, tables, {"comparison_types": assignments(events)})
        members = await connection.fetch(SELECT_ALL_MEMBERS.format(**tables))
        found, ranked = type_rows(
            ((r[0], r[1], r[2], r[3], r[4], r[5]), r["jobcenter_id"], r["value"]) for r in members
        )
        await copy(connection, tables, {"comparison_type_statistics": found,
                                        "comparison_type_ranks": ranked})  # fmt: skip


REBUILD = KeyFiguresRebuild(
    Groups(
        FIGURE_TYPES,
        GroupedBy(FIGURE_TYPES, "jobcenter_id"),
        fold,
        fields={"indicator": BASE_SERIES},
    )
)
"""A few jobcenters' base series at a time (the other figures are not read), then the
comparison types."""
