"""Answers PostgreSQL writes (`services/api/json_answers.py`) mean what the models' JSON means:
every number and time of a model's fields, written by `json_sql`, reads back as pydantic
writes it (the ties and signs of the rounding, integral values, microseconds), and the
figures page the API sends is the model's JSON of the view's rows."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import httpx
from pydantic import BaseModel

from events.numbers import Presented
from events.store import EventStore
from projections.attainment.answers import Exact
from services.api.json_answers import json_sql
from services.api.routes.figures import Figure, Figures
from services.pipeline.ingest import Ingestor
from tests.factories import envelope, figure_envelope, unique
from tests.integration.helpers import api_app, api_client, ignore, record

NUMBERS = [
    "0", "1", "770", "55.3", "55.333333", "0.005", "0.015", "-0.005", "-2.675", "2.675",
    "-0.001", "123456.785", "99.995", "1e3", "1.10", "-7", "0.1", "33.33333333333333333",
]  # fmt: skip
TIMES = [
    datetime(2022, 10, 27, 8, 0, tzinfo=UTC),
    datetime(2022, 10, 27, 8, 0, 0, 500000, tzinfo=UTC),
    datetime(2022, 10, 27, 8, 0, 0, 123, tzinfo=UTC),
    datetime(2022, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2))).astimezone(UTC),
]
"""In UTC, as asyncpg reads every timestamptz (the models' times come from the database)."""


class Row(BaseModel):
    """One value of each kind `json_sql` writes."""

    presented: Presented | None
    exact: Exact
    path: list[Presented]
    time: datetime
    text: str | None


SELECT_ROW = f"""
SELECT {json_sql(Row, "r")}::text
FROM (SELECT $1::numeric AS presented, $2::numeric AS exact, $3::numeric[] AS path,
             $4::timestamptz AS time, $5::text AS text) AS r
"""


async def written(pool: asyncpg.Pool, row: Row) -> str:
    text: str = await pool.fetchval(
        SELECT_ROW, row.presented, row.exact, row.path, row.time, row.text
    )
    return text


async def test_numbers_and_times_read_back_as_the_models_json(store: EventStore) -> None:
    rows = [
        Row(presented=Decimal(n), exact=Decimal(n), path=[Decimal(n), Decimal("1.005")],
            time=t, text=None if i % 2 else "ä\"\\")
        for i, (n, t) in enumerate(zip(NUMBERS, TIMES * len(NUMBERS), strict=False))
    ] + [Row(presented=None, exact=Decimal(1), path=[], time=TIMES[0], text="x")]  # fmt: skip

    for row in rows:
        text = await written(store.pool, row)

        assert json.loads(text) == json.loads(row.model_dump_json()), row
        assert list(json.loads(text)) == list(Row.model_fields)


async def test_a_page_of_figures_is_the_models_json_of_the_views_rows(
    store: EventStore,
) -> None:
    jobcenter = unique("jc")
    await record(store, [
        envelope("JobcenterRegistered", {"jobcenter_id": jobcenter, "name": "J",
                                         "land": "DE-HE", "kind": "zkT"}),
        *[figure_envelope(jobcenter, f"2022-{month:02d}", value=value, indicator="k2",
                        numerator=numerator, denominator=5000, status="final")
          for month, value, numerator in ((1, 24.5, 1225), (2, 30, 1500), (3, 0.02, 1))],
    ])  # fmt: skip
    async with api_client(api_app(store, Ingestor(store, ignore))) as client:
        page = await client.get("/figures", params={"jobcenter_id": jobcenter, "limit": 2})
        empty = await client.get("/figures", params={"jobcenter_id": unique("none")})

    rows = await store.pool.fetch(
        "SELECT *, count(*) OVER () AS total FROM views.figures WHERE jobcenter_id = $1 "
        "ORDER BY indicator, breakdown, period LIMIT 2",
        jobcenter,
    )
    model = Figures(items=[Figure(**dict(row)) for row in rows], count=rows[0]["total"])
    assert_answer(page, json.loads(model.model_dump_json()))
    assert_answer(empty, {"items": [], "count": 0})
    assert page.headers["X-Position"] == empty.headers["X-Position"] != "0"


def assert_answer(response: httpx.Response, expected: object) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected
