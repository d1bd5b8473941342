"""Snapshots of the attainment fold, for answers as known at an earlier position: an agreement's
state is kept every `batch.SNAPSHOT_EVERY` events folded into it (`attainment_snapshots`, written by
the live projection and its rebuild alike, since both count the same events), so an as-of answer
folds only the events after the nearest snapshot, not the agreement's whole history.

Invariants: a snapshot at position p is the fold of exactly the agreement's relevant events
recorded at or before p (`projections.attainment.inputs`); so is its latest state
(`attainment_state`, at the position of the last event folded into it). Either counts only
while the tables are of the projection's declared version: after a change of the fold, the old
states are not used (the projector rebuilds them), and an as-of answer folds from the start.
"""

from __future__ import annotations

import json
from typing import Any

from events.store import Reader
from projections.attainment.calculation import State
from projections.attainment.codec import decode_state
from projections.engine.checkpoints import version_of

SELECT_NEAREST = f"""
SELECT position, state::text AS state FROM (
    SELECT position, state FROM views.attainment_snapshots
    WHERE agreement_id = $1 AND position <= $2
    UNION ALL
    SELECT position, state FROM views.attainment_state WHERE agreement_id = $1 AND position <= $2
) AS kept
WHERE {version_of("$3")} = $4
ORDER BY position DESC LIMIT 1
"""


async def nearest_snapshot(
    reader: Reader, agreement_id: str, position: int, version: int
) -> tuple[int, State] | None:
    """The agreement's latest kept state at or before `position` (and its position), if the
    tables are of `version`; None when there is none."""
    row = await reader.fetchrow(SELECT_NEAREST, agreement_id, position, "attainment", version)
    if row is None:
        return None
    document: dict[str, Any] = json.loads(row["state"])
    return int(row["position"]), decode_state(document)
