"""The "attainment" projection: the result of every active target, and one history row per
change of a result, naming the event that caused it.

Invariants: rows equal `projections.attainment.attainment` over the log up to the checkpoint
(the one calculation); a history row exists for exactly the events that changed a target's
compared fields (`projections.results.COMPARED`), with the old and the new values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from events.store import SELECT_EVENTS, RecordedEvent, record_from_row
from projections.attainment import AgreementAttainment
from projections.results import TargetChange, walk
from projections.runner import Connection

FIGURE_TYPES = frozenset({"MonthlyFigureReported", "MonthlyFigureCorrected"})

# The single definition of the tables: the runner creates the live copies from it
# (`ProjectionRunner.ensure_tables`) and the fresh ones of a rebuild.
ATTAINMENT_DDL = (
    """
    CREATE TABLE {agreement_years} (
        agreement_id text    PRIMARY KEY,
        jobcenter_id text    NOT NULL,
        year         integer NOT NULL
    )
    """,
    "CREATE INDEX agreement_years_jobcenter_idx ON {agreement_years} (jobcenter_id, year)",
    """
    CREATE TABLE {attainment} (
        agreement_id        text    NOT NULL,
        target_id           text    NOT NULL,
        ordinal             integer NOT NULL,
        jobcenter_id        text    NOT NULL,
        year                integer NOT NULL,
        indicator           text    NOT NULL,
        breakdown           text    NOT NULL,
        comparator          text    NOT NULL,
        unit                text    NOT NULL,
        aggregation         text    NOT NULL,
        label               text,
        budget_line         text,
        agreed_value        numeric NOT NULL,
        target_value        numeric NOT NULL,
        actual              numeric,
        months_reported     integer NOT NULL,
        expected_to_date    numeric,
        forecast            numeric,
        attainment_pct      numeric,
        status              text    NOT NULL,
        final               boolean NOT NULL,
        revised_after_close boolean NOT NULL,
        position            bigint  NOT NULL,
        PRIMARY KEY (agreement_id, target_id)
    )
    """,
    "CREATE INDEX attainment_year_idx ON {attainment} (year, indicator, status)",
    """
    CREATE TABLE {attainment_history} (
        agreement_id text        NOT NULL,
        target_id    text        NOT NULL,
        position     bigint      NOT NULL,
        event_id     uuid        NOT NULL,
        event_type   text        NOT NULL,
        recorded_at  timestamptz NOT NULL,
        old          jsonb,
        new          jsonb,
        PRIMARY KEY (agreement_id, target_id, position)
    )
    """,
)
UPSERT_AGREEMENT_YEAR = """
INSERT INTO {agreement_years} (agreement_id, jobcenter_id, year) VALUES ($1, $2, $3)
ON CONFLICT (agreement_id) DO NOTHING
"""
SELECT_AGREEMENT = "SELECT jobcenter_id, year FROM {agreement_years} WHERE agreement_id = $1"
SELECT_AGREEMENTS_OF_JOBCENTERS = """
SELECT agreement_id, jobcenter_id, year FROM {agreement_years}
WHERE jobcenter_id = ANY($1::text[])
"""
SELECT_AGREEMENT_EVENTS = f"""
{SELECT_EVENTS}
WHERE position <= $4 AND (
    stream_id = 'agreement-' || $1
    OR (stream_id = 'figures-' || $2 AND left(data->>'period', 4) = ANY($3::text[]))
)
ORDER BY position
"""
DELETE_RESULTS = "DELETE FROM {attainment} WHERE agreement_id = $1"
INSERT_RESULT = """
INSERT INTO {attainment} VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23
)
"""
INSERT_HISTORY = """
INSERT INTO {attainment_history} VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)
"""


async def agreement_events(
    connection: Connection, agreement_id: str, jobcenter_id: str, year: int, until: int
) -> list[RecordedEvent]:
    """The events the agreement's result depends on, up to position `until`."""
    rows = await connection.fetch(
        SELECT_AGREEMENT_EVENTS, agreement_id, jobcenter_id, [str(year - 1), str(year)], until
    )
    return [record_from_row(row) for row in rows]


class AttainmentProjection:
    """Attainment per (agreement, target), with the history of its changes."""

    name = "attainment"
    tables = ("agreement_years", "attainment", "attainment_history")

    def ddl(self, tables: Mapping[str, str]) -> list[str]:
        """The statements that create this projection's tables under the given names."""
        return [statement.format(**tables) for statement in ATTAINMENT_DDL]

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> None:
        """Recompute every agreement the batch touches, from its first touching event on."""
        concluded = [e.data for e in events if e.type == "AgreementConcluded"]
        if concluded:
            await connection.executemany(
                UPSERT_AGREEMENT_YEAR.format(**tables),
                [(d["agreement_id"], d["jobcenter_id"], d["year"]) for d in concluded],
            )
        agreements = await self._agreements_of(connection, events, tables)
        first_touch: dict[str, int] = {}
        for event in events:
            for agreement_id in touched(event, agreements):
                first_touch.setdefault(agreement_id, event.position)
        until = events[-1].position if events else 0
        for agreement_id, first in first_touch.items():
            await self._recompute(connection, agreement_id, first, until, tables)

    @staticmethod
    async def _agreements_of(
        connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> dict[tuple[str, int], list[str]]:
        """(jobcenter, year) -> agreements, for the jobcenters whose figures the batch holds."""
        jobcenters = {e.data["jobcenter_id"] for e in events if e.type in FIGURE_TYPES}
        if not jobcenters:
            return {}
        rows = await connection.fetch(
            SELECT_AGREEMENTS_OF_JOBCENTERS.format(**tables), sorted(jobcenters)
        )
        found: dict[tuple[str, int], list[str]] = {}
        for row in rows:
            found.setdefault((row["jobcenter_id"], row["year"]), []).append(row["agreement_id"])
        return found

    async def _recompute(
        self,
        connection: Connection,
        agreement_id: str,
        first: int,
        until: int,
        tables: Mapping[str, str],
    ) -> None:
        known = await connection.fetchrow(SELECT_AGREEMENT.format(**tables), agreement_id)
        if known is None:
            return
        events = await agreement_events(
            connection, agreement_id, known["jobcenter_id"], known["year"], until
        )
        result, found = walk(agreement_id, events, after=first - 1)
        if found:
            await connection.executemany(
                INSERT_HISTORY.format(**tables), [history_values(change) for change in found]
            )
        await connection.execute(DELETE_RESULTS.format(**tables), agreement_id)
        if rows := result_rows(result):
            await connection.executemany(INSERT_RESULT.format(**tables), rows)


def touched(event: RecordedEvent, agreements: Mapping[tuple[str, int], list[str]]) -> list[str]:
    """The agreements whose result `event` may change: its own agreement, or, for a figure,
    those of its jobcenter for the figure's year and the year after (change_of_* compares)."""
    if event.stream_id.startswith("agreement-"):
        return [event.data["agreement_id"]]
    if event.type not in FIGURE_TYPES:
        return []
    jobcenter, year = event.data["jobcenter_id"], int(event.data["period"][:4])
    return [*agreements.get((jobcenter, year), []), *agreements.get((jobcenter, year + 1), [])]


def history_values(change: TargetChange) -> tuple[object, ...]:
    """A history row's values, in table order."""
    return (
        change.agreement_id, change.target_id, change.position, change.event_id,
        change.event_type, change.recorded_at, change.old, change.new,
    )  # fmt: skip


def result_rows(result: AgreementAttainment | None) -> list[tuple[object, ...]]:
    """The attainment rows of a result, in table order."""
    if result is None:
        return []
    return [
        (
            result.agreement_id,
            t.target_id,
            ordinal,
            result.jobcenter_id,
            result.year,
            t.indicator,
            t.breakdown,
            t.comparator,
            t.unit,
            t.aggregation,
            t.label,
            t.budget_line,
            t.agreed_value,
            t.target_value,
            t.actual,
            t.months_reported,
            t.expected_to_date,
            t.forecast,
            t.attainment_pct,
            t.status,
            t.final,
            t.revised_after_close,
            result.position,
        )
        for ordinal, t in enumerate(result.targets)
    ]


ATTAINMENT = AttainmentProjection()
