"""The live attainment projection keeps its fold states in memory between pages: a state the
table does not hold at the same position is read from the table again (a page whose commit
failed, a page that failed half way)."""

import json
from datetime import date

import pytest

from events.log import RecordedEvent
from events.store import EventStore
from projections.attainment.projection import ATTAINMENT
from projections.engine.runner import LIVE_SCHEMA, ProjectionRunner, tables_in
from projections.registry import PROJECTIONS
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor
from tests.factories import odenwald_2021, unique
from tests.integration.helpers import ignore, record

RESULTS = """
SELECT target_id, actual::float8, status, attainment_pct::float8
FROM views.attainment WHERE agreement_id = $1 ORDER BY ordinal
"""
WORKED_EXAMPLE = [
    ("integrations-total", 718.0, "achieved", 104.06),
    ("ltb-average", 2035.0, "missed", 99.75),
]


async def recorded_unprojected(store: EventStore, envelopes: list[dict[str, object]]) -> list[
    RecordedEvent
]:  # fmt: skip
    """Ingest `envelopes` without advancing any projection; the events recorded."""
    after = await store.last_position()
    ingestor = Ingestor(store, ignore, today=lambda: date(2026, 11, 21))
    await ingestor.ingest([Delivery(json.dumps(e).encode(), unique("d")) for e in envelopes])
    return [event async for page in store.read_all(after) for event in page]


class Failed(Exception):
    """The failure a test injects."""


@pytest.mark.parametrize("failure", ["commit", "apply"])
async def test_a_page_that_did_not_commit_leaves_no_state_in_memory_that_is_used(
    store: EventStore, failure: str
) -> None:
    jobcenter, agreement = unique("jc"), unique("odw-2021")
    envelopes = odenwald_2021(jobcenter, agreement)
    await record(store, envelopes[:10])  # concluded, targets set, a few months: states kept
    rest = await recorded_unprojected(store, envelopes[10:])
    tables = tables_in(LIVE_SCHEMA, ATTAINMENT)

    async with store.pool.acquire() as connection:
        with pytest.raises(Failed):
            async with connection.transaction():
                if failure == "commit":  # applied in full, then the transaction rolled back
                    await ATTAINMENT.apply(connection, rest, tables)
                else:  # half applied: a statement of the page fails (no such table)
                    with pytest.raises(Exception):  # noqa: B017 asyncpg's UndefinedTableError
                        await ATTAINMENT.apply(
                            connection, rest, {**tables, "attainment": "views.missing"}
                        )
                raise Failed
    await ProjectionRunner(store.pool, store, PROJECTIONS).catch_up()

    assert [tuple(row) for row in await store.pool.fetch(RESULTS, agreement)] == WORKED_EXAMPLE
