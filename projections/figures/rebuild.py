"""The figures projection's rebuild: a few jobcenters' figure streams folded in memory at a time
(a figure's row and flags depend on its jobcenter's figures only), written by COPY."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.catalogue import FIGURE_TYPES
from events.store import RecordedEvent
from projections.engine.reading import Group, join_groups, stream_keys, trusted_figure
from projections.figures.calculation import (
    Amounts,
    FigureKey,
    FigureRow,
    flags_by_key,
    fold_figures,
    key_of,
    row_values,
)


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
    return [(*row_values(row), flags[key_of(row)]) for row in rows.values()]
