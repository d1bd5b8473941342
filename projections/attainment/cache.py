"""The attainment projection's fold states kept in memory between pages of the live projector.

Each page loaded the state of every agreement its events concern from `attainment_state` (JSON
of a few hundred figures each), decoded it and wrote it back: a tenth of the projector's time.
Now a page first reads only the states' positions and decodes only the states it does not hold
at exactly that position.

Invariants: a state is used from memory only when the table's row, read in the page's own
transaction, names the same database, table, agreement and position as the kept one: the state
at a position is the fold of the log up to it, so the two are equal. A page that fails forgets
everything kept (its states may be half applied); a page whose commit fails leaves kept
positions the table does not have, so those states are read again. At most `CAPACITY` states
are kept, the least recently used dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping
from decimal import localcontext

from projections.attainment.calculation import CONTEXT, State, count
from projections.attainment.codec import decode_state, with_member_figures
from projections.engine.rebuild import Connection

CAPACITY = 1000
"""States kept: the agreements of about one national year and the next (a few hundred KiB each)."""

SELECT_POSITIONS = """
WITH pairs (jobcenter_id, year) AS (SELECT * FROM unnest($2::text[], $3::integer[]))
SELECT y.agreement_id, s.position, current_database() AS database
FROM {agreement_years} y JOIN {attainment_state} s USING (agreement_id)
WHERE y.agreement_id = ANY($1::text[])
   OR (y.jobcenter_id, y.year) IN (SELECT * FROM pairs)
   OR y.agreement_id IN (
       SELECT m.agreement_id FROM {agreement_members} m
       WHERE (m.jobcenter_id, m.year) IN (SELECT * FROM pairs)
   )
"""
SELECT_STATES = """
SELECT agreement_id, state FROM {attainment_state} WHERE agreement_id = ANY($1::text[])
"""
SELECT_MEMBER_FIGURES = """
SELECT * FROM {attainment_member_figures} WHERE agreement_id = ANY($1::text[])
"""

SELECT_DATABASE = "SELECT current_database()"

Key = tuple[str, str, str]
"""(database, qualified state table, agreement)."""


class StateCache:
    """Fold states by agreement, each with the position its stored row has."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[Key, tuple[int, State]] = OrderedDict()

    async def load(
        self,
        connection: Connection,
        agreements: Collection[str],
        years: Collection[tuple[str, int]],
        tables: Mapping[str, str],
    ) -> tuple[dict[str, State], dict[str, int], str]:
        """The stored states of `agreements` and of the agreements of the (jobcenter, year)
        pairs `years` (its own, and those it is a member of), with their positions and the
        database's name; from memory where the position matches."""
        pairs = sorted(years)
        rows = await connection.fetch(
            SELECT_POSITIONS.format(**tables), sorted(agreements),
            [jobcenter for jobcenter, _ in pairs], [year for _, year in pairs],
        )  # fmt: skip
        positions = {row["agreement_id"]: row["position"] for row in rows}
        database = str(rows[0]["database"] if rows else await connection.fetchval(SELECT_DATABASE))
        table = tables["attainment_state"]
        states: dict[str, State] = {}
        for agreement_id, position in positions.items():
            kept = self._kept.get((database, table, agreement_id))
            if kept is not None and kept[0] == position:
                states[agreement_id] = kept[1]
        missing = sorted(set(positions) - set(states))
        if missing:
            found = await connection.fetch(SELECT_STATES.format(**tables), missing)
            decoded = {row["agreement_id"]: decode_state(row["state"]) for row in found}
            roll_ups = sorted(a for a, state in decoded.items() if state.agreement.roll_up)
            if roll_ups:  # their member figures are rows of their own (codec.member_rows)
                rows = await connection.fetch(SELECT_MEMBER_FIGURES.format(**tables), roll_ups)
                for row in rows:
                    with_member_figures(decoded[row["agreement_id"]], [tuple(row)])
                with localcontext(CONTEXT):
                    for agreement_id in roll_ups:
                        count(decoded[agreement_id])  # their running sums
            states |= decoded
        return states, positions, database

    def keep(
        self,
        database: str,
        tables: Mapping[str, str],
        states: Mapping[str, State],
        positions: Mapping[str, int],
    ) -> None:
        """Keep `states` as written at `positions` (by the page about to commit)."""
        table = tables["attainment_state"]
        for agreement_id, state in states.items():
            key = (database, table, agreement_id)
            self._kept[key] = (positions[agreement_id], state)
            self._kept.move_to_end(key)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    def forget(self) -> None:
        """Drop everything kept (a page failed; its states may be half applied)."""
        self._kept.clear()
