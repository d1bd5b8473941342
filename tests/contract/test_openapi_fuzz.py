"""Schemathesis against the documented API: every operation of `/openapi.json`, with generated
valid and invalid input, once with a token of each role and once without one, on a real uvicorn
server over a real PostgreSQL holding the demo data. No answer may be a 5xx, and every answer
must be documented: its status code, its content type and its body's schema.

The examples are bounded and derandomised (the same cases on every run), so CI is stable. Not
part of `make test` (about three minutes on two busy cores): `make test-contract`, run by CI."""

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import cast

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from events.store import EventStore, create_pool
from infra.database import create_database, drop_database, with_database
from infra.roles import DbRole
from services.cli.demo import demo_envelopes
from services.pipeline.ingest import Ingestor
from tests.integration.helpers import TEST_SOURCE, api_app, ignore, record, token

MAX_EXAMPLES = 25
"""Generated cases per operation and role, beyond schemathesis's own edge cases."""
START_TIMEOUT_S = 120.0
CATCH_UP_TIMEOUT_S = 0.05
"""How long a `?min_position=` beyond the head waits here before its 503 (5 s in service)."""


def no_server_error(ctx: CheckContext, response: schemathesis.Response, case: Case) -> None:
    """Schemathesis's `not_a_server_error`, but for the one documented 503 a client asks for:
    `not_caught_up`, the answer to a `?min_position=` the projection has not reached."""
    if response.status_code == 503 and response.json()["error"]["code"] == "not_caught_up":
        return
    not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES: dict[str, dict[str, str] | None] = {
    "anonymous": None,
    "reader-federal": {"role": "reader"},
    "reader-hessen": {"role": "reader", "land": "DE-HE"},
    "auditor": {"role": "auditor"},
    "source": {"role": "source", "source": TEST_SOURCE},
    "admin": {"role": "admin"},
}


async def serve_demo(
    urls: dict[DbRole | None, str], started: threading.Event, box: dict[str, object]
) -> None:
    """Record the demo data (as the tests' login), then serve the API on a free port until told
    to stop, connected as the API's login (and the ingest's for `POST /ingest`)."""
    pools = [await create_pool(urls[None])] + [
        await create_pool(urls[role], role=role.group) for role in (DbRole.API, DbRole.INGEST)
    ]
    try:
        await record(EventStore(pools[0]), list(demo_envelopes()))
        app = api_app(EventStore(pools[1]), Ingestor(EventStore(pools[2]), ignore))
        app.state.catch_up_timeout = CATCH_UP_TIMEOUT_S
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0,
            log_config=None, access_log=False, lifespan="off",
        )  # fmt: skip
        server = uvicorn.Server(config)
        box["server"] = server
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 uvicorn has no event
            await asyncio.sleep(0.05)
        if server.started:
            box["port"] = server.servers[0].sockets[0].getsockname()[1]
        started.set()
        await serving
    except BaseException as error:
        box["error"] = error
        raise
    finally:
        started.set()
        for pool in pools:
            await pool.close()


@pytest.fixture(scope="module")
def base_url(
    server_url: str, template_database: str, logins: dict[DbRole | None, str]
) -> Iterator[str]:
    """The URL of the API served from a thread of its own, over a database with the demo."""
    name = f"zs_fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(create_database(server_url, name, template=template_database))
    urls = {role: with_database(url, name) for role, url in logins.items()}
    started, box = threading.Event(), dict[str, object]()
    thread = threading.Thread(target=asyncio.run, args=(serve_demo(urls, started, box),))
    thread.start()
    try:
        assert started.wait(START_TIMEOUT_S), "the API did not start"
        assert "port" in box, f"the API could not start: {box.get('error')!r}"
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        server = box.get("server")
        if isinstance(server, uvicorn.Server):
            server.should_exit = True
        thread.join()
        asyncio.run(drop_database(server_url, name))


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """A plain HTTP session (no proxy from the environment for the local server)."""
    with requests.Session() as plain:
        plain.trust_env = False
        yield plain


def headers_of(role: str) -> dict[str, str]:
    """The Authorization header of `role` (none for anonymous)."""
    claims = ROLES[role]
    return {} if claims is None else {"Authorization": f"Bearer {token(**claims)}"}


DOCUMENT = api_app(cast(EventStore, None), cast(Ingestor, None)).openapi()
"""The OpenAPI document the app serves at `/openapi.json` (it needs no database to build;
`test_the_document_under_test_is_the_one_served` holds them equal)."""
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_document_under_test_is_the_one_served(
    base_url: str, session: requests.Session
) -> None:
    assert session.get(f"{base_url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@pytest.mark.parametrize("role", list(ROLES))
@settings(
    max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
def test_every_answer_is_documented_and_none_is_a_server_error(
    case: schemathesis.Case, role: str, base_url: str, session: requests.Session
) -> None:
    case.call_and_validate(base_url, session, headers_of(role), checks=CHECKS)
