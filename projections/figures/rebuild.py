"""The figures projection's rebuild: a few jobcenters' figure streams folded in memory at a time
(a figure's row and flags depend on its jobcenter's figures only), written by COPY."""

from collections.abc import Mapping, Sequence

from events.catalogue import FIGURE_TYPES
from events.log import RecordedEvent
from events.trusted import trusted_figure
from projections.engine.rebuild import GroupedBy, Groups, Rows
from projections.figures.calculation import (
    Amounts,
    FigureKey,
    FigureRow,
    flags_by_key,
    fold_figures,
    key_of,
    row_values,
)


def fold(events: Sequence[RecordedEvent]) -> Rows:
    """The rows, with their flags, of the figure streams `events` (in position order) are all
    of."""
    rows: dict[FigureKey, FigureRow] = {}
    fold_figures(events, rows, trusted_figure)
    return {"figures": _flagged(rows)}


def _flagged(rows: Mapping[FigureKey, FigureRow]) -> list[tuple[object, ...]]:
    """Every row with its flags, in table order."""
    flags = flags_by_key(
        (key, Amounts(row.value, row.numerator, row.denominator, row.occurred_at))
        for key, row in rows.items()
    )
    return [(*row_values(row), flags[key_of(row)]) for row in rows.values()]


REBUILD = Groups(FIGURE_TYPES, GroupedBy(FIGURE_TYPES, "jobcenter_id"), fold)
"""A few jobcenters' figure streams at a time (one stream each, as the store records them)."""
