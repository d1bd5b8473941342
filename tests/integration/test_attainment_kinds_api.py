"""The three kinds of aggregation end to end (docs/domain.md, section 4): envelopes published on
the real broker, recorded, projected and read through the HTTP API, live and as of the head: the
plan share from last year's profile and from an agreed plan, a quota on a linear path, a
reduction target judged on levels, a K2 target by its own construction, and a plan or target
the ingest rejects."""

import json
from typing import Any

from services.bootstrap import Running
from services.pipeline.channels import publish_envelopes
from tests.factories import envelope, figure_envelope, unique
from tests.integration.helpers import api_app, api_client, eventually

PRIOR = [40, 50, 50, 60, 60, 60, 110, 110, 110, 110, 120, 120]  # 2022: 1,000, 320 by June
NOW = [44, 55, 55, 66, 66, 66]  # 2023 January to June: 352
TARGETS = [  # target_id, indicator, comparator, value, unit, aggregation
    ("int", "integrations", "at_least", 1100, "count", "sum"),
    ("int-plan", "integrations", "at_least", 1200, "count", "sum"),
    ("quota", "integration_quota", "at_least", 24, "percent", "quota"),
    ("ltb", "ltb_stock", "at_most", -5, "percent", "change_of_mean"),
    ("k2", "k2", "at_least", 24, "percent", "quota"),
]
PLAN = [60, 130, 210, 300, 352, 400, 600, 700, 800, 900, 1050, 1200]


def scenario(jobcenter: str, agreement: str) -> list[dict[str, Any]]:
    """A jobcenter with its 2022 figures, a 2023 agreement with five targets and a plan, and
    January to June 2023."""

    def fig(period: str, value: object, indicator: str = "integrations", **parts: int) -> dict:
        return figure_envelope(jobcenter, period, value=value, indicator=indicator,
                               status="final", **parts)  # fmt: skip

    return [
        envelope("JobcenterRegistered", {"jobcenter_id": jobcenter, "name": "J",
                                         "land": "DE-HE", "kind": "zkT"}),
        *[fig(f"2022-{m:02d}", v) for m, v in enumerate(PRIOR, start=1)],
        *[fig(f"2022-{m:02d}", 2000, "ltb_stock") for m in range(1, 7)],
        envelope("AgreementConcluded", {"agreement_id": agreement, "jobcenter_id": jobcenter,
                                        "year": 2023, "parties": ["Kreis", "HMSI"]}),
        *[envelope("TargetSet", {"agreement_id": agreement, "target_id": t, "indicator": i,
                                 "breakdown": "total", "comparator": c, "value": v, "unit": u,
                                 "aggregation": a}) for t, i, c, v, u, a in TARGETS],
        envelope("TargetPlanSet", {"agreement_id": agreement, "target_id": "int-plan",
                                   "plan": PLAN}),
        *[fig(f"2023-{m:02d}", v) for m, v in enumerate(NOW, start=1)],
        *[fig(f"2023-{m:02d}", 2, "integration_quota", numerator=100, denominator=5000)
          for m in range(1, 7)],
        *[fig(f"2023-{m:02d}", 1890, "ltb_stock") for m in range(1, 7)],
        *[fig(f"2023-{m:02d}", 24, "k2", numerator=1200, denominator=5000)
          for m in range(1, 7)],
    ]  # fmt: skip


def rejected(agreement: str) -> list[dict[str, Any]]:
    """A plan that falls, a plan for an unknown target, a K2 target summed."""
    return [
        envelope("TargetPlanSet", {"agreement_id": agreement, "target_id": "int",
                                   "plan": [100, 90, *PLAN[2:]]}),
        envelope("TargetPlanSet", {"agreement_id": agreement, "target_id": "nope",
                                   "plan": PLAN}),
        envelope("TargetSet", {"agreement_id": agreement, "target_id": "k2-sum",
                               "indicator": "k2", "breakdown": "total",
                               "comparator": "at_least", "value": 24, "unit": "percent",
                               "aggregation": "sum"}),
    ]  # fmt: skip


async def test_kinds_of_targets_through_the_broker_and_the_api(pipeline: Running) -> None:
    jobcenter, agreement = unique("jc"), unique("agr")
    sent = scenario(jobcenter, agreement)
    refused = rejected(agreement)
    await publish_envelopes(pipeline.transport, [json.dumps(e).encode() for e in sent + refused])
    async with api_client(api_app(pipeline.store, pipeline.ingestor)) as client:
        path = f"/agreements/{agreement}/attainment"

        async def projected() -> bool:
            answer = await client.get(path)
            targets = answer.json().get("targets", []) if answer.status_code == 200 else []
            return len(targets) == 5 and all(t["months_reported"] == 6 for t in targets)

        async def all_rejected() -> bool:
            rejections = (await client.get("/rejections", params={"limit": 1000})).json()
            ids = {r["message_id"] for r in rejections["items"]}
            return all(e["message_id"] in ids for e in refused)

        await eventually(projected, "the six months of every target projected")
        await eventually(all_rejected, "the three rejections")
        live = (await client.get(path)).json()
        as_of = (await client.get(path, params={"as_of_position": live["position"]})).json()
        rejections = (await client.get("/rejections", params={"limit": 1000})).json()

    targets = {t["target_id"]: t for t in live["targets"]}
    fields = ("plan_basis", "actual", "expected_to_date", "forecast", "attainment_pct", "status")
    assert {tid: tuple(t[f] for f in fields) for tid, t in targets.items()} == {
        "int": ("prior_year_profile", 352, 352, 1100, 100.0, "on_track"),
        "int-plan": ("agreed_plan", 352, 400, 1056, 88.0, "at_risk"),
        "quota": ("linear", 12, 12, 24, 100.0, "on_track"),
        "ltb": (None, -5.5, -5, -5.5, 100.53, "on_track"),
        "k2": (None, 24, 24, 24, 100.0, "on_track"),
    }
    assert targets["int"]["plan_path"][5] == 352
    assert targets["int-plan"]["plan_path"] == PLAN
    assert (targets["ltb"]["baseline"], targets["ltb"]["actual_level"],
            targets["ltb"]["target_level"]) == (2000, 1890, 1900)  # fmt: skip
    assert targets["int"]["baseline"] is None
    assert as_of["targets"] == live["targets"]
    codes = {r["message_id"]: r["code"] for r in rejections["items"]}
    assert [codes[e["message_id"]] for e in refused] == [
        "plan_not_cumulative",
        "unknown_target",
        "key_figure_aggregation",
    ]
