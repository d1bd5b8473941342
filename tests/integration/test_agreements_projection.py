"""The "agreements" projection against a real database: events in, rows out, rebuilds alike."""

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from events.store import EventStore
from projections.agreements.projection import AGREEMENTS
from projections.engine.runner import ProjectionRunner
from projections.figures.projection import FIGURES
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, envelope, unique
from tests.integration.helpers import ignore


async def ingest(store: EventStore, envelopes: Sequence[dict[str, Any]]) -> None:
    """Record `envelopes` through the real ingest; every one must be recorded."""
    deliveries = [Delivery(json.dumps(e).encode(), unique("d")) for e in envelopes]
    outcomes = await Ingestor(store, ignore).ingest(deliveries)
    assert [o.status for o in outcomes] == ["recorded"] * len(envelopes), outcomes


@pytest.fixture
def runner(store: EventStore) -> ProjectionRunner:
    """A runner of the figures and agreements projections."""
    return ProjectionRunner(store.pool, store, [FIGURES, AGREEMENTS])


def agreement_life(agreement_id: str) -> list[dict[str, Any]]:
    """Envelopes that amend, withdraw, add goals, deviate, hold a dialogue and close."""
    a = {"agreement_id": agreement_id}
    return [
        envelope("TargetSet", a | {"target_id": "ltb", "indicator": "ltb_stock",
                                   "breakdown": "women", "comparator": "at_most", "value": 1100,
                                   "unit": "count", "aggregation": "mean",
                                   "budget_line": "training", "label": "LZB Frauen"}),
        envelope("TargetAmended", a | {"target_id": "integrations-total", "value": 800,
                                       "effective_from": "2022-04-01", "reason": "dialogue"}),
        envelope("TargetAmended", a | {"target_id": "integrations-total", "value": 790.5,
                                       "effective_from": "2022-07-01", "reason": "second"}),
        envelope("TargetWithdrawn", a | {"target_id": "ltb", "reason": "no longer agreed"}),
        envelope("QualitativeGoalSet", a | {"goal_id": "g1", "section": "2.1",
                                            "text": "Fachkräfte", "state_support": ["ESF"]}),
        envelope("BudgetDeviationRecorded", a | {"budget_line": "training", "period": "2022-05",
                                                 "amount_eur": -10000.5, "reason": "cut"}),
        envelope("BudgetDeviationRecorded", a | {"budget_line": "training", "period": "2022-09",
                                                 "amount_eur": 2500, "reason": "top-up"}),
        envelope("DialogHeld", a | {"held_on": "2022-06-15", "summary": "mid-year"}),
        envelope("AgreementClosed", a | {"closed_on": "2023-02-01"}),
    ]  # fmt: skip


async def rows(connection: asyncpg.Connection, table: str, order: str) -> list[dict[str, Any]]:
    """Every row of `views.<table>`, as dicts."""
    return [
        dict(r) for r in await connection.fetch(f"SELECT * FROM views.{table} ORDER BY {order}")
    ]


async def test_an_agreements_life_becomes_rows(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    agreement = unique("agr")
    await ingest(store, [*agreement_setup("06437", agreement), *agreement_life(agreement)])

    await runner.catch_up()

    [jobcenter] = await rows(owner_connection, "jobcenters", "jobcenter_id")
    assert jobcenter == {"jobcenter_id": "06437", "name": "Odenwaldkreis", "land": "DE-HE",
                         "kind": "zkT", "district_key": None, "position": 1}  # fmt: skip
    [row] = await rows(owner_connection, "agreements", "agreement_id")
    assert (row["status"], str(row["closed_on"]), row["position"]) == ("closed", "2023-02-01", 13)
    assert (row["year"], json.loads(row["parties"]), row["jobcenter_id"]) == (
        2022, ["Kreis", "HMSI"], "06437",
    )  # fmt: skip
    total, ltb = await rows(owner_connection, "targets", "position")
    assert (total["agreed_value"], total["value_in_force"]) == (770, Decimal("790.5"))
    assert json.loads(total["amendments"]) == [
        {"value": 800, "effective_from": "2022-04-01", "reason": "dialogue", "position": 6},
        {"value": 790.5, "effective_from": "2022-07-01", "reason": "second", "position": 7},
    ]
    assert (total["withdrawn"], total["position"], total["budget_line"]) == (False, 7, None)
    assert (ltb["withdrawn"], ltb["value_in_force"], ltb["label"]) == (True, 1100, "LZB Frauen")
    assert (ltb["comparator"], ltb["aggregation"], ltb["budget_line"]) == (
        "at_most", "mean", "training",
    )  # fmt: skip
    [goal] = await rows(owner_connection, "goals", "goal_id")
    assert (goal["section"], json.loads(goal["state_support"])) == ("2.1", ["ESF"])
    [budget] = await rows(owner_connection, "budget_lines", "budget_line")
    assert (budget["allocated"], budget["current"]) == (1289900, Decimal("1282399.5"))
    assert [d["amount_eur"] for d in json.loads(budget["deviations"])] == [-10000.5, 2500]
    [dialog] = await rows(owner_connection, "dialogs", "position")
    assert (str(dialog["held_on"]), dialog["summary"], dialog["position"]) == (
        "2022-06-15", "mid-year", 12,
    )  # fmt: skip


async def test_a_target_set_again_starts_afresh_and_a_reallocation_keeps_deviations(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    agreement = unique("agr")
    a = {"agreement_id": agreement}
    target = a | {"target_id": "integrations-total", "indicator": "integrations",
                  "breakdown": "total", "comparator": "at_least", "value": 500, "unit": "count",
                  "aggregation": "sum"}  # fmt: skip
    await ingest(store, [
        *agreement_setup("06435", agreement),
        envelope("TargetAmended", a | {"target_id": "integrations-total", "value": 800,
                                       "effective_from": "2022-04-01", "reason": "x"}),
        envelope("TargetWithdrawn", a | {"target_id": "integrations-total", "reason": "y"}),
        envelope("TargetSet", target),
        envelope("BudgetDeviationRecorded", a | {"budget_line": "training", "period": "2022-05",
                                                 "amount_eur": 100, "reason": "z"}),
        envelope("BudgetAllocated", a | {"budget_line": "training", "amount_eur": 2000,
                                         "measures": ["m"]}),
    ])  # fmt: skip

    await runner.catch_up()

    [row] = await rows(owner_connection, "targets", "target_id")
    assert (row["agreed_value"], row["value_in_force"], row["withdrawn"]) == (500, 500, False)
    assert json.loads(row["amendments"]) == []
    [budget] = await rows(owner_connection, "budget_lines", "budget_line")
    assert (budget["allocated"], budget["current"], budget["position"]) == (2000, 2100, 9)
    assert json.loads(budget["measures"]) == ["m"]


async def test_figures_and_a_repeated_batch_change_nothing(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    agreement = unique("agr")
    await ingest(store, agreement_setup("06437", agreement))
    events = [e for page in [p async for p in store.read_all()] for e in page]
    await runner.project(events)
    before = await rows(owner_connection, "targets", "target_id")

    await runner.project(events)

    assert await rows(owner_connection, "targets", "target_id") == before
    assert (
        await owner_connection.fetchval(
            "SELECT position FROM service.checkpoints WHERE projection = 'agreements'"
        )
        == 4
    )


async def test_a_rebuild_gives_the_same_rows(
    store: EventStore, runner: ProjectionRunner, owner_connection: asyncpg.Connection
) -> None:
    agreement = unique("agr")
    await ingest(store, [*agreement_setup("06437", agreement), *agreement_life(agreement)])
    await runner.catch_up()
    orders = {"jobcenters": "1", "agreements": "1", "targets": "1, 2", "goals": "1, 2",
              "budget_lines": "1, 2", "dialogs": "1, 4"}  # fmt: skip
    live = {table: await rows(owner_connection, table, orders[table]) for table in orders}

    position = await runner.rebuild("agreements")

    assert position == 13
    assert {table: await rows(owner_connection, table, orders[table]) for table in orders} == live
