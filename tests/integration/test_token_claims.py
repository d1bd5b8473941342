"""Tokens fail closed: a claim that is missing, null, empty or of the wrong type, and a token
naming an algorithm other than the trusted key's, are refused with 401 in the one error shape,
whatever the request (a reader's read, a source's ingest)."""

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from events.store import EventStore
from infra.settings import Settings
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, unique
from tests.integration.helpers import TEST_KEY, TEST_SOURCE, api_app, api_client, ignore

SETTINGS = Settings()


def claims(**changes: Any) -> dict[str, Any]:
    """A valid reader's claims with `changes` (a value of `...` drops the claim)."""
    now = int(time.time())
    valid: dict[str, Any] = {
        "sub": "test-reader", "role": "reader", "iss": SETTINGS.auth_issuer,
        "aud": SETTINGS.auth_audience, "iat": now, "exp": now + 600, "land": "DE-HE",
    }  # fmt: skip
    valid.update(changes)
    return {name: value for name, value in valid.items() if value is not ...}


def signed(payload: dict[str, Any], key: Any = TEST_KEY, algorithm: str = "EdDSA") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
NOW = int(time.time())

READER_CASES = {
    "land null makes no federal reader": signed(claims(land=None)),
    "jobcenter_id null makes no federal reader": signed(claims(land=..., jobcenter_id=None)),
    "land empty": signed(claims(land="")),
    "land an empty list": signed(claims(land=[])),
    "land a list with an empty name": signed(claims(land=["DE-HE", ""])),
    "land a number": signed(claims(land=7)),
    "jobcenter_id an object": signed(claims(jobcenter_id={"id": "x"})),
    "sub missing": signed(claims(sub=...)),
    "sub empty": signed(claims(sub="")),
    "sub a number": signed(claims(sub=42)),
    "role missing": signed(claims(role=...)),
    "role null": signed(claims(role=None)),
    "role unknown": signed(claims(role="king")),
    "exp missing": signed(claims(exp=...)),
    "exp a string": signed(claims(exp=str(NOW + 600))),
    "exp a boolean": signed(claims(exp=True)),
    "exp null": signed(claims(exp=None)),
    "exp past": signed(claims(exp=NOW - 600)),
    "iat a string": signed(claims(iat=str(NOW))),
    "iat null": signed(claims(iat=None)),
    "nbf a string": signed(claims(nbf=str(NOW))),
    "nbf in the future": signed(claims(nbf=NOW + 600)),
    "aud wrong": signed(claims(aud="someone-else")),
    "iss missing": signed(claims(iss=...)),
    "signed RS256": signed(claims(), RSA_KEY, "RS256"),
    "signed ES256": signed(claims(), EC_KEY, "ES256"),
    "signed HS256": signed(claims(), b"a shared secret of thirty-two b.", "HS256"),
    "alg none": signed(claims(), None, "none"),
    "not a JWT": "not.a.token",
}
SOURCE_CASES = {
    "source claim missing": signed(claims(role="source", land=..., sub=TEST_SOURCE)),
    "source claim null": signed(claims(role="source", land=..., source=None)),
    "source claim empty": signed(claims(role="source", land=..., source="")),
    "types null": signed(claims(role="source", land=..., source=TEST_SOURCE, types=None)),
    "types a number": signed(claims(role="source", land=..., source=TEST_SOURCE, types=3)),
}


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    assert set(response.json()) == {"error"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("token", READER_CASES.values(), ids=READER_CASES.keys())
async def test_a_reader_token_that_is_not_exactly_valid_reads_nothing(
    client: httpx.AsyncClient, token: str
) -> None:
    await client.post("/ingest", json=agreement_setup(unique("jc"), unique("agr")))

    response = await client.get("/agreements", headers={"Authorization": f"Bearer {token}"})

    assert_refused(response)


@pytest.mark.parametrize("token", SOURCE_CASES.values(), ids=SOURCE_CASES.keys())
async def test_a_source_token_that_is_not_exactly_valid_records_nothing(
    client: httpx.AsyncClient, store: EventStore, token: str
) -> None:
    envelopes = agreement_setup(unique("jc"), unique("agr"))

    response = await client.post(
        "/ingest", json=envelopes, headers={"Authorization": f"Bearer {token}"}
    )

    assert_refused(response)
    assert await store.last_position() == 0


async def test_the_valid_tokens_of_the_table_are_accepted(client: httpx.AsyncClient) -> None:
    """The table's tokens differ from these in the one claim each names."""
    reader = signed(claims())
    source = signed(claims(role="source", land=..., source=TEST_SOURCE))
    envelopes = agreement_setup(unique("jc"), unique("agr"))

    read = await client.get("/agreements", headers={"Authorization": f"Bearer {reader}"})
    sent = await client.post(
        "/ingest", json=envelopes, headers={"Authorization": f"Bearer {source}"}
    )

    assert read.status_code == 200
    assert {item["status"] for item in sent.json()["items"]} == {"recorded"}
