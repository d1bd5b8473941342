"""The attainment endpoints: live, as of a time or position, portfolio filters, errors — and the
worked example of DOMAIN.md through the real broker pipeline and the HTTP API."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from events.store import EventStore
from projections.attainment.answers import AgreementAttainment, TargetResult
from services.api.csv_export import csv_response
from services.bootstrap import Running
from services.pipeline.channels import publish_envelopes
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, odenwald_2021, unique
from tests.integration.helpers import api_app, api_client, ignore, record


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking in process to the app."""
    app = api_app(store, Ingestor(store, ignore))
    app.state.catch_up_timeout = 0.3
    async with api_client(app) as c:
        yield c


def summary(answer: dict[str, object]) -> list[tuple[object, ...]]:
    """(target, actual, status, attainment_pct, revised_after_close) per target."""
    fields = ("target_id", "actual", "status", "attainment_pct", "revised_after_close")
    return [tuple(t[f] for f in fields) for t in answer["targets"]]  # type: ignore[attr-defined]


async def test_live_as_of_and_portfolio(client: httpx.AsyncClient, store: EventStore) -> None:
    jobcenter, agreement = unique("jc"), unique("odw")
    await record(store, odenwald_2021(jobcenter, agreement))
    before, head = datetime.now(UTC), await store.last_position()
    data = {"jobcenter_id": jobcenter, "indicator": "integrations", "period": "2021-12",
            "breakdown": "total", "value": 80, "status": "final", "reason": "revision"}  # fmt: skip
    await record(store, [envelope("MonthlyFigureCorrected", data)])

    live = await client.get(f"/agreements/{agreement}/attainment")
    by_time = await client.get(f"/agreements/{agreement}/attainment",
                               params={"as_of": before.isoformat()})  # fmt: skip
    by_position = await client.get(f"/agreements/{agreement}/attainment",
                                   params={"as_of_position": head})  # fmt: skip
    missed = await client.get("/attainment", params={"status": "missed", "land": "DE-HE"})
    nowhere = await client.get("/attainment", params={"land": "DE-BY"})

    assert live.status_code == 200
    assert live.headers["X-Position"] == str(head + 1)
    assert summary(live.json()) == [("integrations-total", 738, "achieved", 106.96, True),
                                    ("ltb-average", 2035, "missed", 99.75, False)]  # fmt: skip
    assert summary(by_time.json()) == [("integrations-total", 718, "achieved", 104.06, False),
                                       ("ltb-average", 2035, "missed", 99.75, False)]  # fmt: skip
    assert by_position.json() == by_time.json()
    assert by_position.headers["X-Position"] == str(head)
    assert [(r["agreement_id"], r["target_id"]) for r in missed.json()["items"]] == [
        (agreement, "ltb-average")]  # fmt: skip
    assert missed.json()["count"] == 1
    assert nowhere.json() == {"items": [], "count": 0}


async def test_the_live_answer_postgresql_writes_is_the_models(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    """The live answer is written by PostgreSQL: it must be the model's JSON of the view's rows
    to the byte's meaning (fields in the model's order, numbers rounded as `Presented` rounds
    them, integral ones as integers), and its CSV the model's CSV."""
    jobcenter, agreement = unique("jc"), unique("odw")
    await record(store, odenwald_2021(jobcenter, agreement))

    live = await client.get(f"/agreements/{agreement}/attainment")
    as_csv = await client.get(f"/agreements/{agreement}/attainment", params={"format": "csv"})

    year = await store.pool.fetchrow(
        "SELECT * FROM views.agreement_years WHERE agreement_id = $1", agreement
    )
    rows = await store.pool.fetch(
        "SELECT * FROM views.attainment WHERE agreement_id = $1 ORDER BY ordinal", agreement
    )
    assert year is not None and len(rows) == 2
    model = AgreementAttainment(
        agreement_id=agreement, jobcenter_id=jobcenter, level=year["level"], land=year["land"],
        year=year["year"], position=int(live.headers["X-Position"]),
        targets=[TargetResult(**{name: row[name] for name in TargetResult.model_fields})
                 for row in rows],
    )  # fmt: skip
    assert live.headers["content-type"] == "application/json"
    assert list(live.json()) == list(AgreementAttainment.model_fields)
    assert [list(t) for t in live.json()["targets"]] == [list(TargetResult.model_fields)] * 2
    assert live.json() == json.loads(model.model_dump_json())
    assert any(isinstance(t["attainment_pct"], float) for t in live.json()["targets"])
    expected_csv = csv_response(model.targets, TargetResult, "a.csv", {})
    assert as_csv.text == bytes(expected_csv.body).decode()
    assert as_csv.headers["X-Position"] == live.headers["X-Position"]


async def test_unknown_agreement_and_unreached_position(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/agreements/nope/attainment")
    unknown_then = await client.get("/agreements/nope/attainment", params={"as_of_position": 5})
    waiting = await client.get("/attainment", params={"min_position": 10**6})

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert unknown_then.status_code == 404
    assert (waiting.status_code, waiting.json()["error"]["code"]) == (503, "not_caught_up")


async def test_an_invalid_parameter_answers_the_contracts_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/attainment", params={"limit": 0, "year": "next"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert "limit" in response.json()["error"]["message"]
    assert "year" in response.json()["error"]["message"]


async def test_worked_example_through_the_broker_and_the_api(pipeline: Running) -> None:
    jobcenter, agreement = unique("jc"), unique("odw")
    envelopes = odenwald_2021(jobcenter, agreement)
    await publish_envelopes(pipeline.transport, [json.dumps(e).encode() for e in envelopes])
    app = api_app(pipeline.store, pipeline.ingestor)
    async with api_client(app) as c:
        answer = await c.get(f"/agreements/{agreement}/attainment",
                             params={"min_position": len(envelopes)})  # fmt: skip

    assert answer.status_code == 200
    assert summary(answer.json()) == [("integrations-total", 718, "achieved", 104.06, False),
                                      ("ltb-average", 2035, "missed", 99.75, False)]  # fmt: skip
    assert answer.json()["targets"][0]["target_value"] == 690
