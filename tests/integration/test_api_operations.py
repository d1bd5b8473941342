"""The operational and contract endpoints against a real database: metrics, health degraded,
readiness, CSV exports, changes, AsyncAPI, the OpenAPI error shape and Swagger UI's assets."""

import csv
import io
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from events.store import EventStore
from infra.broker import create_transport
from projections.registry import PROJECTIONS
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, odenwald_2021, unique
from tests.integration.helpers import api_app, api_client, ignore, record


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with no broker to check."""
    async with api_client(api_app(store, Ingestor(store, ignore), max_lag_events=5)) as c:
        yield c


@pytest.fixture
async def odenwald(store: EventStore) -> tuple[str, str]:
    """A jobcenter and its 2021 agreement with the year's figures, projected."""
    jobcenter, agreement = unique("jc"), unique("odw")
    await record(store, odenwald_2021(jobcenter, agreement))
    return jobcenter, agreement


async def test_metrics_count_outcomes_and_rejection_codes_and_report_lag(
    client: httpx.AsyncClient, odenwald: tuple[str, str]
) -> None:
    data = {"jobcenter_id": "99999", "indicator": "x", "period": "2021-01",
            "breakdown": "total", "value": 1, "status": "final"}  # fmt: skip
    bad = envelope("MonthlyFigureReported", data)
    await client.post("/ingest", json=[bad, "not an envelope"])
    await client.get("/attainment")

    text = (await client.get("/metrics")).text

    assert 'zs_ingest_envelopes_total{outcome="recorded"}' in text
    assert 'zs_ingest_rejections_total{code="unknown_jobcenter"}' in text
    assert 'zs_ingest_rejections_total{code="invalid_envelope"}' in text
    assert "zs_store_append_seconds_count" in text
    assert "zs_ingest_batch_seconds_count" in text
    assert 'zs_projection_lag_events{name="attainment"} 0.0' in text
    assert "zs_relay_lag_events" in text  # no relay ran: the whole log is behind
    assert 'zs_http_request_seconds_count{method="GET",route="/attainment",status="200"}' in text
    assert "zs_database_up 1.0" in text


async def test_health_is_degraded_but_200_when_a_projection_or_the_relay_lags(
    client: httpx.AsyncClient, odenwald: tuple[str, str], store: EventStore
) -> None:
    head = await store.last_position()

    health = await client.get("/health")
    ready = await client.get("/ready")
    live = await client.get("/live")

    assert health.status_code == 200
    body = health.json()
    assert (body["status"], body["position"]) == ("degraded", head)
    assert set(body["projections"]) == {projection.name for projection in PROJECTIONS}
    assert body["reasons"] == [f"relay lags {head} events (limit 5)"]
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "not_ready"
    assert live.json() == {"status": "live"}


async def test_ready_once_everything_is_within_the_lag_bound(
    client: httpx.AsyncClient, odenwald: tuple[str, str], store: EventStore,
    owner_connection: asyncpg.Connection,
) -> None:  # fmt: skip
    head = await store.last_position()
    await owner_connection.execute(
        "INSERT INTO service.relay_checkpoint (id, position) VALUES (true, $1)", head
    )

    ready = await client.get("/ready")
    health = await client.get("/health")

    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "position": head})
    assert "reasons" not in health.json()
    assert health.json()["status"] == "ok"


async def test_health_names_an_unreachable_database_and_broker(store: EventStore) -> None:
    transport = create_transport("redis://127.0.0.1:1/0")  # nothing listens on port 1
    app = api_app(store, Ingestor(store, ignore), transport=transport)
    await store.pool.close()
    async with api_client(app) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")

    assert health.status_code == 200
    body = health.json()
    assert (body["status"], body["position"]) == ("degraded", None)
    assert body["reasons"][0].startswith("database unreachable")
    assert "broker unreachable" in body["reasons"]
    assert ready.status_code == 503


def parsed_csv(response: httpx.Response) -> list[dict[str, str]]:
    """The rows of a CSV answer."""
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_csv_exports_have_the_json_columns_and_a_file_name(
    client: httpx.AsyncClient, odenwald: tuple[str, str]
) -> None:
    jobcenter, agreement = odenwald
    portfolio = await client.get("/attainment", params={"year": 2021, "format": "csv"})
    as_json = (await client.get("/attainment", params={"year": 2021})).json()["items"]
    figures = await client.get(
        "/figures", params={"jobcenter_id": jobcenter, "indicator": "integrations"},
        headers={"Accept": "text/csv"},
    )  # fmt: skip
    targets = await client.get(f"/agreements/{agreement}/attainment", params={"format": "csv"})
    explicit_json = await client.get(
        "/figures", params={"format": "json"}, headers={"Accept": "text/csv"}
    )

    assert portfolio.headers["content-type"].startswith("text/csv")
    assert portfolio.headers["content-disposition"].startswith('attachment; filename="portfolio-')
    rows = parsed_csv(portfolio)
    assert list(rows[0]) == list(as_json[0])
    mine = [row for row in rows if row["agreement_id"] == agreement]
    assert [(r["target_id"], r["attainment_pct"], r["status"], r["final"]) for r in mine] == [
        ("integrations-total", "104.06", "achieved", "true"),
        ("ltb-average", "99.75", "missed", "true"),
    ]
    assert len(parsed_csv(figures)) == 12
    assert list(parsed_csv(figures)[0])[:4] == ["jobcenter_id", "indicator", "breakdown", "period"]
    assert "X-Position" in figures.headers
    assert [r["target_id"] for r in parsed_csv(targets)] == ["integrations-total", "ltb-average"]
    assert f'filename="attainment-{agreement}-' in targets.headers["content-disposition"]
    assert explicit_json.headers["content-type"] == "application/json"


async def test_changes_between_positions_give_old_and_new_values(
    client: httpx.AsyncClient, odenwald: tuple[str, str], store: EventStore
) -> None:
    jobcenter, agreement = odenwald
    head = await store.last_position()
    data = {"jobcenter_id": jobcenter, "indicator": "integrations", "period": "2021-12",
            "breakdown": "total", "value": 80, "status": "final", "reason": "revision"}  # fmt: skip
    await record(store, [envelope("MonthlyFigureCorrected", data)])

    since = await client.get(f"/agreements/{agreement}/changes", params={"from_position": head})
    nothing = await client.get(
        f"/agreements/{agreement}/changes", params={"from_position": 1, "to_position": 1}
    )
    unknown = await client.get("/agreements/nope/changes")
    backwards = await client.get(
        f"/agreements/{agreement}/changes", params={"from_position": head + 5}
    )

    body = since.json()
    assert (body["from_position"], body["to_position"], body["count"]) == (head, head + 1, 1)
    change = body["items"][0]
    assert (change["target_id"], change["event_type"], change["position"]) == (
        "integrations-total", "MonthlyFigureCorrected", head + 1)  # fmt: skip
    assert (change["old"]["actual"], change["new"]["actual"]) == (718, 738)
    assert since.headers["X-Position"] == str(head + 1)
    assert nothing.status_code == 404  # not concluded yet at position 1
    assert unknown.json()["error"]["code"] == "not_found"
    assert backwards.status_code == 422


async def test_asyncapi_describes_the_three_channels(client: httpx.AsyncClient) -> None:
    document = (await client.get("/asyncapi.json")).json()
    page = await client.get("/asyncapi")

    assert document["asyncapi"].startswith("3.")
    assert set(document["channels"]) == {"zs.ingest", "zs.events", "zs.rejected"}
    messages = document["components"]["messages"]
    payloads = {name.split(":")[0]: m["payload"]["$ref"].rsplit("/", 1)[-1]
                for name, m in messages.items()}  # fmt: skip
    assert payloads == {"zs.ingest": "Envelope", "zs.events": "RecordedEvent",
                        "zs.rejected": "RejectionMessage"}  # fmt: skip
    rejection = document["components"]["schemas"]["RejectionMessage"]["properties"]
    assert set(rejection) == {"delivery_id", "source", "message_id", "code", "reason",
                              "received_at", "body", "body_encoding"}  # fmt: skip
    assert {"position", "hash", "prev_hash", "stream_id"} <= set(
        document["components"]["schemas"]["RecordedEvent"]["properties"]
    )
    assert page.status_code == 200 and "zs.rejected" in page.text


async def test_openapi_documents_the_real_error_shape_and_the_ingest_body(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    invalid = await client.get("/figures", params={"limit": 0})
    no_route = await client.get("/no/such/path")

    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation["responses"].items():
                if code[0] in "45":
                    assert answer["content"]["application/json"]["schema"] == error_ref, (
                        path, method, code)  # fmt: skip
    assert "422" in document["paths"]["/figures"]["get"]["responses"]
    body = document["paths"]["/ingest"]["post"]["requestBody"]["content"]["application/json"]
    envelope_ref = {"$ref": "#/components/schemas/Envelope"}
    assert body["schema"]["oneOf"][0] == envelope_ref
    assert body["schema"]["oneOf"][1]["items"] == envelope_ref
    assert "message_id" in schemas["Envelope"]["properties"]
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_request"
    assert no_route.json() == {"error": {"code": "not_found", "message": "Not Found"}}


async def test_swagger_ui_and_the_dashboard_are_served_from_the_package(
    client: httpx.AsyncClient,
) -> None:
    docs = await client.get("/docs")
    bundle = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    css = await client.get("/static/vendor/swagger-ui/swagger-ui.css")
    dashboard = await client.get("/dashboard/")
    script = await client.get("/dashboard/app.js")
    api_module = await client.get("/dashboard/api.js")

    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert css.status_code == 200
    assert dashboard.status_code == 200 and "Zielsteuerung" in dashboard.text
    assert script.status_code == 200 and './api.js"' in script.text
    assert api_module.status_code == 200 and "Authorization" in api_module.text
    assert api_module.headers["content-type"].startswith(
        ("text/javascript", "application/javascript")
    )
