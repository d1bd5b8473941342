"""The key_figures projection's rebuild: each jobcenter's base series folded in memory, its key
figures computed once from them, both tables written by COPY.

Invariants: the rows equal those the projection's `apply` leaves after the same events, in any
pages: a base month's row is its vintage in force (greatest `occurred_at`, then position); a key
figure is `compute` over the months in force, kept when it can be computed, and its `position`
is the greatest position among the vintages in force of its input months (the last batch that
changed one of them set it, and it names the greatest such position, as `inputs` and `affected`
are each other's inverse). A key figure depends on one jobcenter's figures only, so the log is
read a few jobcenters' figure streams at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache

from events.catalogue import FIGURE_TYPES
from events.log import RecordedEvent
from events.trusted import trusted_figure
from projections.engine.rebuild import Groups, Rows, grouped_by
from projections.key_figures.calculation import BASE_SERIES, affected, compute, inputs

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


REBUILD = Groups(
    FIGURE_TYPES,
    grouped_by(FIGURE_TYPES, "jobcenter_id"),
    fold,
    fields={"indicator": BASE_SERIES},
)
"""A few jobcenters' base series at a time (the other figures are not read)."""
