"""Issue 12 end to end: envelopes published on the real broker (Redis Streams and NATS
JetStream), recorded by the ingest, projected, and read through the HTTP API with readers'
tokens: framework agreements and an accession, vintages and `revision_count`, consistency flags,
"as published" beside "as known", and key figures per jobcenter, Land and Germany."""

import json
from typing import Any

import httpx

from services.bootstrap import Running
from services.cli.demo import demo_envelopes
from services.pipeline.channels import publish_envelopes
from tests.factories import envelope, figure_envelope
from tests.integration.helpers import api_app, api_client, token

NRW = "nrw-inklusiv-2018"
APRIL, MAY = "2022-04-30T00:00:00Z", "2022-05-31T00:00:00Z"
SEED_TYPES = {"JobcenterRegistered", "FrameworkAgreementConcluded", "FrameworkJoined"}


async def publish(
    running: Running, client: httpx.AsyncClient, envelopes: list[dict[str, Any]]
) -> int:
    """Publish on the broker; wait until the store and every read model hold them; the head."""
    before = int((await client.get("/figures", params={"limit": 1})).headers["X-Position"])
    await publish_envelopes(running.transport, [json.dumps(e).encode() for e in envelopes])
    head = before + len(envelopes)
    for path in ("/frameworks", "/figures", "/key-figures", "/jobcenters"):
        response = await client.get(path, params={"min_position": head, "limit": 1})
        assert response.status_code == 200, response.json()
    return head


def figure(period: str, value: int, published: str, **data: Any) -> dict[str, Any]:
    sent = figure_envelope("06437", period, value=value, status="final", **data)
    sent["occurred_at"] = published
    if "reason" in data:
        sent["type"] = "MonthlyFigureCorrected"
    return sent


async def test_frameworks_vintages_flags_and_as_published(pipeline: Running) -> None:
    seed = [e for e in demo_envelopes() if e["type"] in SEED_TYPES]
    agreement = [
        envelope("AgreementConcluded", {"agreement_id": "odw", "jobcenter_id": "06437",
                                        "year": 2022, "parties": ["Kreis", "HMSI"]}),
        envelope("TargetSet", {"agreement_id": "odw", "target_id": "integrations-total",
                               "indicator": "integrations", "breakdown": "total",
                               "comparator": "at_least", "value": 770, "unit": "count",
                               "aggregation": "sum"}),
    ]  # fmt: skip
    agreement = [e | {"occurred_at": "2022-03-01T09:00:00Z"} for e in agreement]
    report = envelope("FrameworkMeasureReported", {
        "framework_id": NRW, "jobcenter_id": "05162", "measure": "Beratung",
        "text": "Fallmanagement aufgebaut", "period": "2018-12"})  # fmt: skip
    async with api_client(api_app(pipeline.store, pipeline.ingestor)) as client:
        await publish(pipeline, client, [*seed, *agreement, report])
        # February published in May is recorded before January's April publication; January is
        # corrected in May; the women's part exceeds the first total; a share lacks its fraction.
        head = await publish(pipeline, client, [
            figure("2022-02", 50, "2022-05-27T08:00:00Z"),
            figure("2022-01", 60, "2022-04-27T08:00:00Z"),
            figure("2022-01", 65, "2022-04-27T08:00:00Z", breakdown="women"),
            figure("2022-01", 70, "2022-05-27T08:00:00Z", reason="Nachmeldungen"),
            figure("2022-01", 58, "2022-04-27T08:00:00Z", indicator="k2e3"),
        ])  # fmt: skip

        framework = (await client.get(f"/frameworks/{NRW}")).json()
        joined = (await client.get("/jobcenters/05162/frameworks")).json()
        figures = (await client.get("/figures", params={"jobcenter_id": "06437"})).json()
        vintages = (await client.get("/figures/vintages", params={
            "jobcenter_id": "06437", "indicator": "integrations", "breakdown": "total",
            "period": "2022-01"})).json()  # fmt: skip
        in_april = (await client.get("/figures", params={"as_published": APRIL})).json()
        attainment = {
            when: (await client.get("/agreements/odw/attainment", params={"as_published": when}))
            for when in (APRIL, MAY)
        }
        live = (await client.get("/agreements/odw/attainment")).json()
        hessen = token("reader", land="DE-HE")
        hidden = await client.get(
            f"/frameworks/{NRW}", headers={"Authorization": f"Bearer {hessen}"}
        )

    [member] = framework["members"]
    assert (member["jobcenter_id"], member["joined_on"], member["approved_on"]) == (
        "05162", "2018-05-14", "2018-05-07")  # fmt: skip
    assert [r["text"] for r in member["reports"]] == ["Fallmanagement aufgebaut"]
    assert [(f["framework_id"], f["joined_on"]) for f in joined["items"]] == [(NRW, "2018-05-14")]
    assert hidden.status_code == 404

    rows = {(f["indicator"], f["breakdown"], f["period"]): f for f in figures["items"]}
    total = rows[("integrations", "total", "2022-01")]
    assert (total["value"], total["revision_count"], total["flags"]) == (70, 1, [])
    assert rows[("integrations", "total", "2022-02")]["revision_count"] == 0
    assert rows[("k2e3", "total", "2022-01")]["flags"] == ["fraction_missing", "waiting_period"]
    assert rows[("integrations", "total", "2022-02")]["flags"] == ["waiting_period"]  # 27 May
    assert [(v["value"], v["occurred_at"]) for v in vintages["items"]] == [
        (60, "2022-04-27T08:00:00Z"), (70, "2022-05-27T08:00:00Z")]  # fmt: skip
    assert [v["position"] for v in vintages["items"]] == [head - 3, head - 1]

    # As published in April: January's first total (60), below its women's part (65), flagged.
    by_key = {(f["indicator"], f["breakdown"], f["period"]): f for f in in_april["items"]}
    april_total = by_key[("integrations", "total", "2022-01")]
    assert (april_total["value"], april_total["flags"]) == (
        60, ["breakdown_sum_exceeds_total", "waiting_period"],
    )  # fmt: skip
    assert ("integrations", "total", "2022-02") not in by_key
    actuals = {when: a.json()["targets"][0]["actual"] for when, a in attainment.items()}
    assert actuals == {APRIL: 60, MAY: 120}  # in May: corrected January (70) and February (50)
    assert live["targets"][0]["actual"] == 120


def ltb(jobcenter_id: str, then: int, now: int) -> list[dict[str, Any]]:
    return [figure_envelope(jobcenter_id, period, indicator="ltb_stock", value=value,
                            status="final") for period, value in (("2021-03", then),
                                                                  ("2022-03", now))]  # fmt: skip


async def test_key_figures_per_jobcenter_land_and_germany(pipeline: Running) -> None:
    registered = [
        envelope("JobcenterRegistered", {"jobcenter_id": jobcenter_id, "name": jobcenter_id,
                                         "land": land, "kind": "gE"})
        for jobcenter_id, land in (("06437", "DE-HE"), ("06435", "DE-HE"), ("05162", "DE-NW"))
    ]  # fmt: skip
    newer = ltb("06437", 2000, 1900)[1] | {"occurred_at": "2022-12-01T08:00:00Z"}
    newer["type"], newer["data"] = "MonthlyFigureCorrected", newer["data"] | {
        "value": 1800, "reason": "Nachmeldungen"}  # fmt: skip

    async def read(bearer: str | None = None, **params: str) -> list[tuple[Any, ...]]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        body = (await client.get("/key-figures", params=params, headers=headers)).json()
        return [(k["level"], k["land"], k["jobcenter_id"], k["value"], k["numerator"],
                 k["denominator"], k["jobcenters"]) for k in body["items"]]  # fmt: skip

    async with api_client(api_app(pipeline.store, pipeline.ingestor)) as client:
        await publish(pipeline, client, [
            *registered, ltb("06437", 2000, 1900)[0], newer, *ltb("06435", 1000, 1100),
            *ltb("05162", 3000, 3300),
        ])  # fmt: skip
        # The first publication of 06437's March (1900, October) arrives after its correction.
        await publish(pipeline, client, [ltb("06437", 2000, 1900)[1]])

        jobcenters = await read(code="k3")
        lands = await read(level="land", code="k3")
        germany = await read(level="germany", code="k3", period="2022-03")
        of_hessen = token("reader", land="DE-HE")
        hessen_lands = await read(of_hessen, level="land")
        hessen_germany = await read(of_hessen, level="germany")
        federal_germany = await read(token("reader"), level="germany")

    # 06437: 1800 / 2000 - 1 = -10 % (the correction, published later, stays in force).
    assert jobcenters == [
        ("jobcenter", "DE-NW", "05162", 10, 3300, 3000, 1),
        ("jobcenter", "DE-HE", "06435", 10, 1100, 1000, 1),
        ("jobcenter", "DE-HE", "06437", -10, 1800, 2000, 1),
    ]
    # Hessen: 2900 / 3000 - 1 = -3.33 %; Germany: 6200 / 6000 - 1 = 3.33 %.
    assert lands == [("land", "DE-HE", None, -3.33, 2900, 3000, 2),
                     ("land", "DE-NW", None, 10, 3300, 3000, 1)]  # fmt: skip
    assert germany == [("germany", None, None, 3.33, 6200, 6000, 3)]
    assert hessen_lands == [lands[0]]
    assert (hessen_germany, federal_germany) == ([], germany)
