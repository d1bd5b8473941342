"""What every route checks before its own work, in this order: a NUL character in the path or
the query (422), the bearer token (401: none, another scheme, an empty one, an invalid one), the
token's role (403), then the request's parameters (422), each in the one error shape."""

from collections.abc import AsyncIterator

import httpx
import pytest

from events.store import EventStore
from services.pipeline.ingest import Ingestor
from tests.integration.helpers import TEST_SOURCE, api_app, api_client, ignore, token

NOT_BEARER = {
    "no header": None,
    "another scheme": "Basic dXNlcjpwYXNz",
    "the scheme alone": "Bearer",
    "an empty token": "Bearer   ",
    "not a token": "Bearer not.a.token",
}
NUL_REQUESTS = {
    "in a query value": "/figures?jobcenter_id=a%00b",
    "in a query name": "/figures?a%00b=1",
    "in a path parameter": "/agreements/a%00b/attainment",
    "in an unknown path": "/nowhere%00",
}


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    return str(response.json()["error"]["code"])


@pytest.mark.parametrize("authorization", NOT_BEARER.values(), ids=NOT_BEARER.keys())
@pytest.mark.parametrize("path", ["/figures", "/health", "/rejections"])
async def test_a_request_without_a_valid_bearer_token_is_refused_with_401(
    client: httpx.AsyncClient, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get(path, headers=headers, auth=None)

    assert error_code(response, 401) == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_the_scheme_is_matched_in_any_case(client: httpx.AsyncClient) -> None:
    response = await client.get("/figures", headers={"Authorization": f"bEaReR {token('reader')}"})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("role", "path"), [("source", "/figures"), ("reader", "/rejections"), ("reader", "/metrics")]
)
async def test_a_role_the_route_does_not_admit_is_refused_with_403(
    client: httpx.AsyncClient, role: str, path: str
) -> None:
    claims = {"source": TEST_SOURCE} if role == "source" else {}
    response = await client.get(path, headers={"Authorization": f"Bearer {token(role, **claims)}"})

    assert error_code(response, 403) == "forbidden"


@pytest.mark.parametrize("path", NUL_REQUESTS.values(), ids=NUL_REQUESTS.keys())
async def test_a_nul_character_is_refused_with_422_before_the_token_is_looked_at(
    client: httpx.AsyncClient, path: str
) -> None:
    for headers in ({"Authorization": f"Bearer {token('auditor')}"}, {"Authorization": "x"}):
        response = await client.get(path, headers=headers)

        assert error_code(response, 422) == "invalid_request"
        assert "NUL" in response.json()["error"]["message"]


async def test_an_encoded_percent_sign_is_no_nul(client: httpx.AsyncClient) -> None:
    response = await client.get("/figures?jobcenter_id=%2500")

    assert response.status_code == 200, response.text


async def test_the_token_is_checked_before_the_parameters(client: httpx.AsyncClient) -> None:
    invalid = "/figures?min_position=-1&limit=0"
    without = await client.get(invalid, headers={"Authorization": "Bearer not.a.token"})
    with_one = await client.get(invalid)

    assert error_code(without, 401) == "unauthenticated"
    assert error_code(with_one, 422) == "invalid_request"
