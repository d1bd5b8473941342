"""CSV file names from ids with any characters: the ingest accepts agreement ids with non-ASCII
letters, quotes and line breaks; their CSV answers carry a valid `Content-Disposition` (RFC 6266:
an ASCII fallback, the exact name percent-encoded as UTF-8), never a 500 or a broken header."""

import re
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

import httpx
import pytest

from events.store import EventStore
from services.pipeline.ingest import Ingestor
from tests.factories import agreement_setup, unique
from tests.integration.helpers import api_app, api_client, ignore, record

HOSTILE_IDS = {
    "euro sign": "agr-€uro",
    "double quote": 'agr-"quoted"',
    "CR LF": "agr-cr\r\nSet-Cookie: x=1",
    "backslash and semicolon": "agr-a\\b;c=d",
    "tab and NEL": "agr-tab\tnel\u0085end",
}
HEADER_TEXT = re.compile(r"[\x20-\x7e]*")
DISPOSITION = re.compile(r'attachment; filename="([A-Za-z0-9._-]+)"; filename\*=UTF-8\'\'(\S+)')


@pytest.fixture
async def client(store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        yield client


def file_name(response: httpx.Response) -> str:
    """The exact file name a CSV answer's header carries, after checking the header's form."""
    header = response.headers["Content-Disposition"]
    assert HEADER_TEXT.fullmatch(header), header
    found = DISPOSITION.fullmatch(header)
    assert found, header
    return unquote(found[2], errors="strict")


@pytest.mark.parametrize("agreement", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
async def test_a_csv_answer_names_its_file_whatever_the_agreement_id(
    client: httpx.AsyncClient, store: EventStore, agreement: str
) -> None:
    await record(store, agreement_setup(unique("jc"), agreement))
    head = await store.last_position()
    path = f"/agreements/{quote(agreement, safe='')}/attainment"

    live = await client.get(path, params={"format": "csv"})
    as_of = await client.get(path, params={"format": "csv", "as_of_position": head})

    assert (live.status_code, as_of.status_code) == (200, 200), live.text
    assert file_name(live) == file_name(as_of) == f"attainment-{agreement}-{head}.csv"
    assert live.text.splitlines()[0].startswith("target_id,")
