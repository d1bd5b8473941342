"""Figure events in the store and what `views.figures` must hold, computed from the log alone:
the projector tests' yardstick."""

import random
from collections.abc import Sequence
from typing import Any

import asyncpg

from events.log import NewEvent, RecordedEvent
from events.store import EventStore
from tests.factories import figure_event

# Independent of the projection's code: the latest publication per figure, straight from the log.
EXPECTED_FIGURES = """
SELECT data->>'jobcenter_id' AS jobcenter_id, data->>'indicator' AS indicator,
       data->>'breakdown' AS breakdown, data->>'period' AS period,
       (data->>'value')::numeric, (data->>'numerator')::numeric,
       (data->>'denominator')::numeric, data->>'status', publications::integer - 1, position,
       recorded_at, data->>'reason'
FROM (
    SELECT *,
           row_number() OVER figure AS newest,
           count(*) OVER (PARTITION BY data->>'jobcenter_id', data->>'indicator',
                          data->>'breakdown', data->>'period') AS publications
    FROM store.events
    WHERE type IN ('MonthlyFigureReported', 'MonthlyFigureCorrected') AND position <= $1
    WINDOW figure AS (PARTITION BY data->>'jobcenter_id', data->>'indicator',
                      data->>'breakdown', data->>'period' ORDER BY position DESC)
) AS publication
WHERE newest = 1
"""
ORDER = "jobcenter_id, indicator, breakdown, period"
CHECKSUM = "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY {order}), '')) FROM ({rows}) t"
FIGURE_COLUMNS = (
    "jobcenter_id, indicator, breakdown, period, value, numerator, denominator, status,"
    " revision_count, position, recorded_at, last_reason"
)
SELECT_CHECKPOINT = "SELECT position FROM service.checkpoints WHERE projection = 'figures'"
TABLE_DEFINITION = """
SELECT 'column' AS kind, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') AS definition
FROM pg_attribute a LEFT JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum)
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = $1::regclass
UNION ALL
SELECT 'index', c.relname, replace(pg_get_indexdef(i.indexrelid), $1 || ' ', 'T ')
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = $1::regclass
UNION ALL
SELECT 'owner', '', pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass
ORDER BY 1, 2
"""


def correction(reason: str = "late registrations", **data: Any) -> NewEvent:
    """A MonthlyFigureCorrected event."""
    event = figure_event(**data, reason=reason)
    return event.model_copy(update={"type": "MonthlyFigureCorrected"})


async def append(store: EventStore, events: Sequence[NewEvent]) -> list[RecordedEvent]:
    """Append `events` and answer them as recorded."""
    appended = await store.append(events)
    first, last = appended[0].position, appended[-1].position
    return [event async for page in store.read_all(first - 1, until=last) for event in page]


def month(n: int) -> str:
    """The n-th month from 2021-01 (0-based), as a period."""
    return f"{2021 + n // 12}-{n % 12 + 1:02d}"


def mixed_figures(count: int, rng: random.Random) -> list[NewEvent]:
    """Reports and corrections over a few figures, so months get several vintages."""
    events = []
    for _ in range(count):
        data: dict[str, Any] = {
            "jobcenter_id": rng.choice(["06437", "06438"]),
            "breakdown": rng.choice(["total", "women"]),
            "period": month(rng.randrange(6)),
            "value": rng.randrange(1, 10_000) / 10,
        }
        events.append(correction(**data) if rng.random() < 0.3 else figure_event(**data))
    return events


async def checksum(connection: asyncpg.Connection) -> str:
    """md5 over every row of the live figures table, in key order."""
    rows = f"SELECT {FIGURE_COLUMNS} FROM views.figures"
    return str(await connection.fetchval(CHECKSUM.format(order=ORDER, rows=rows)))


async def expected_checksum(connection: asyncpg.Connection, position: int) -> str:
    """md5 of what the figures table must hold at `position`, computed from the log alone."""
    query = CHECKSUM.format(order=ORDER, rows=EXPECTED_FIGURES)
    return str(await connection.fetchval(query, position))


async def checkpoint(connection: asyncpg.Connection) -> int | None:
    """The figures checkpoint (None when it has no row yet)."""
    value = await connection.fetchval(SELECT_CHECKPOINT)
    return None if value is None else int(value)


async def assert_whole(connection: asyncpg.Connection, position: int) -> None:
    """The live table and its checkpoint reflect exactly the log up to `position`."""
    assert await checkpoint(connection) == position
    assert await checksum(connection) == await expected_checksum(connection, position)
