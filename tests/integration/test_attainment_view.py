"""The attainment read model against a real database: the worked example of DOMAIN.md, a
retroactive correction of a closed year, its history row, and the answer as known before it."""

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from events.store import EventStore
from services.replay import attainment_at, explain
from tests.factories import envelope, odenwald_2021, unique
from tests.integration.helpers import record

RESULTS = """
SELECT target_id, actual::float8, status, attainment_pct::float8, final, revised_after_close
FROM views.attainment WHERE agreement_id = $1 ORDER BY ordinal
"""


@pytest.fixture
def ids() -> tuple[str, str]:
    return unique("jc"), unique("odw-2021")


async def test_the_worked_example_of_the_domain(store: EventStore, ids: tuple[str, str]) -> None:
    await record(store, odenwald_2021(*ids))

    rows = [tuple(row) for row in await store.pool.fetch(RESULTS, ids[1])]

    assert rows == [
        ("integrations-total", 718.0, "achieved", 104.06, True, False),
        ("ltb-average", 2035.0, "missed", 99.75, True, False),
    ]


async def test_a_correction_after_close_is_recomputed_kept_in_history_and_reproducible(
    store: EventStore, ids: tuple[str, str], owner_connection: asyncpg.Connection
) -> None:
    jobcenter, agreement = ids
    await record(store, odenwald_2021(jobcenter, agreement))
    before = datetime.now(UTC)
    known_before = await store.last_position()
    correction = envelope("MonthlyFigureCorrected", {
        "jobcenter_id": jobcenter, "indicator": "integrations", "period": "2021-05",
        "breakdown": "total", "value": 40, "status": "final", "reason": "BA revision",
    })  # fmt: skip
    await record(store, [correction])

    rows = [tuple(row) for row in await store.pool.fetch(RESULTS, agreement)]
    history = await owner_connection.fetch(
        "SELECT * FROM views.attainment_history WHERE agreement_id = $1 AND event_type = "
        "'MonthlyFigureCorrected'",
        agreement,
    )
    then = await attainment_at(store, agreement, await store.position_at(before))
    changes = await explain(store, agreement, known_before, await store.last_position())

    assert rows[0] == ("integrations-total", 700.0, "achieved", 101.45, True, True)
    assert [(h["target_id"], h["position"]) for h in history] == [
        ("integrations-total", known_before + 1),
    ]  # fmt: skip
    old, new = json.loads(history[0]["old"]), json.loads(history[0]["new"])
    assert (old["actual"], new["actual"], new["revised_after_close"]) == (718, 700, True)
    assert then is not None
    assert (then.targets[0].actual, then.targets[0].revised_after_close) == (718, False)
    assert changes is not None
    assert [(c.target_id, c.event_type) for c in changes] == [
        ("integrations-total", "MonthlyFigureCorrected"),
    ]  # fmt: skip


async def test_a_late_amendment_of_an_open_year_changes_the_target_value(
    store: EventStore, ids: tuple[str, str]
) -> None:
    jobcenter, agreement = ids
    setup = [e for e in odenwald_2021(jobcenter, agreement) if e["type"] != "AgreementClosed"]
    await record(store, setup)
    await record(store, [envelope("TargetAmended", {
        "agreement_id": agreement, "target_id": "ltb-average", "value": 2040,
        "effective_from": "2021-07-01", "reason": "Zielnachhaltedialog",
    })])  # fmt: skip

    rows = [tuple(row) for row in await store.pool.fetch(RESULTS, agreement)]

    assert rows[1][:3] == ("ltb-average", 2035.0, "achieved")
