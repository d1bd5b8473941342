"""The "attainment" projection: the result of every active target, and one history row per
change of a result, naming the event that caused it. A Land or federal agreement's targets are
measured on its members' summed series (`projections.attainment.calculation`); its current
members are indexed in `agreement_members`, so that a member's figure finds it.

Invariants: rows equal `projections.attainment.calculation.attainment` over the log up to the
checkpoint (the one calculation, applied as a fold: each agreement's state is kept in
`attainment_state`, so a batch loads the states it concerns, applies its events once and writes
back only what changed); a history row exists for exactly the events that changed a target's
compared fields (`projections.attainment.results.COMPARED`), with the old and the new values. A
row's `position` names the event that last changed its result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from events.catalogue import (
    AgreementConcluded,
    AgreementEvent,
    AgreementMembersSet,
    DomainEvent,
    FigureEvent,
)
from events.log import RecordedEvent
from events.store import EventStore
from projections.attainment.aggregations import Month
from projections.attainment.batch import Batch, figure_year, result_rows
from projections.attainment.cache import StateCache
from projections.attainment.calculation import (
    FigureKey,
    State,
    Vintage,
    figure_entry,
    vintage,
)
from projections.attainment.codec import encode_state, member_row
from projections.attainment.inputs import RELEVANT_TYPES, decode, figure_inputs
from projections.attainment.rebuild import REBUILD
from projections.engine.decoded import stored_data
from projections.engine.rebuild import Connection, Rebuild

# The single definition of the tables: the runner creates the live copies from it
# (`ProjectionRunner.ensure_tables`) and the fresh ones of a rebuild.
ATTAINMENT_DDL = (
    """
    CREATE TABLE {agreement_years} (
        agreement_id text    PRIMARY KEY,
        jobcenter_id text,
        year         integer NOT NULL,
        level        text    NOT NULL,
        land         text
    )
    """,
    "CREATE INDEX agreement_years_jobcenter_idx ON {agreement_years} (jobcenter_id, year)",
    """
    CREATE TABLE {agreement_members} (
        agreement_id text    NOT NULL,
        jobcenter_id text    NOT NULL,
        year         integer NOT NULL,
        PRIMARY KEY (agreement_id, jobcenter_id)
    )
    """,
    "CREATE INDEX agreement_members_jobcenter_idx ON {agreement_members} (jobcenter_id, year)",
    """
    CREATE TABLE {attainment_member_figures} (
        agreement_id text    NOT NULL,
        jobcenter_id text    NOT NULL,
        indicator    text    NOT NULL,
        breakdown    text    NOT NULL,
        year         integer NOT NULL,
        month        integer NOT NULL,
        occurred_us  bigint  NOT NULL,
        position     bigint  NOT NULL,
        value        numeric NOT NULL,
        numerator    numeric,
        denominator  numeric,
        PRIMARY KEY (agreement_id, jobcenter_id, indicator, breakdown, year, month)
    )
    """,
    """
    CREATE TABLE {attainment} (
        agreement_id        text    NOT NULL,
        target_id           text    NOT NULL,
        ordinal             integer NOT NULL,
        jobcenter_id        text,
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
        plan_basis          text,
        plan_path           numeric[] NOT NULL,
        baseline            numeric,
        target_level        numeric,
        actual_level        numeric,
        PRIMARY KEY (agreement_id, target_id)
    )
    """,
    "CREATE INDEX attainment_year_idx ON {attainment} (year, indicator, status)",
    """
    CREATE TABLE {attainment_state} (
        agreement_id text   PRIMARY KEY,
        state        jsonb  NOT NULL,
        position     bigint NOT NULL
    )
    """,
    """
    CREATE TABLE {attainment_snapshots} (
        agreement_id text   NOT NULL,
        position     bigint NOT NULL,
        state        jsonb  NOT NULL,
        PRIMARY KEY (agreement_id, position)
    )
    """,
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
UPSERT_AGREEMENT_YEARS = """
INSERT INTO {agreement_years} (agreement_id, jobcenter_id, year, level, land)
SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[])
ON CONFLICT (agreement_id) DO NOTHING
"""
DELETE_MEMBERS = "DELETE FROM {agreement_members} WHERE agreement_id = ANY($1::text[])"
UPSERT_MEMBER_FIGURES = """
INSERT INTO {attainment_member_figures} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (agreement_id, jobcenter_id, indicator, breakdown, year, month) DO UPDATE SET
    occurred_us = EXCLUDED.occurred_us, position = EXCLUDED.position, value = EXCLUDED.value,
    numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator
"""
INSERT_MEMBERS = """
INSERT INTO {agreement_members} (agreement_id, jobcenter_id, year)
SELECT * FROM unnest($1::text[], $2::text[], $3::integer[])
"""
UPSERT_STATES = """
INSERT INTO {attainment_state} AS s (agreement_id, state, position)
SELECT a, t::jsonb, p FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(a, t, p)
ON CONFLICT (agreement_id) DO UPDATE SET state = EXCLUDED.state, position = EXCLUDED.position
"""
UPSERT_RESULT = """
INSERT INTO {attainment} VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, $24, $25, $26, $27, $28
)
ON CONFLICT (agreement_id, target_id) DO UPDATE SET
    ordinal = EXCLUDED.ordinal, indicator = EXCLUDED.indicator, breakdown = EXCLUDED.breakdown,
    comparator = EXCLUDED.comparator, unit = EXCLUDED.unit, aggregation = EXCLUDED.aggregation,
    label = EXCLUDED.label, budget_line = EXCLUDED.budget_line,
    agreed_value = EXCLUDED.agreed_value, target_value = EXCLUDED.target_value,
    actual = EXCLUDED.actual, months_reported = EXCLUDED.months_reported,
    expected_to_date = EXCLUDED.expected_to_date, forecast = EXCLUDED.forecast,
    attainment_pct = EXCLUDED.attainment_pct, status = EXCLUDED.status, final = EXCLUDED.final,
    revised_after_close = EXCLUDED.revised_after_close, position = EXCLUDED.position,
    plan_basis = EXCLUDED.plan_basis, plan_path = EXCLUDED.plan_path,
    baseline = EXCLUDED.baseline, target_level = EXCLUDED.target_level,
    actual_level = EXCLUDED.actual_level
"""
DELETE_RESULT = "DELETE FROM {attainment} WHERE agreement_id = $1 AND target_id = $2"
SET_ORDINAL = "UPDATE {attainment} SET ordinal = $3 WHERE agreement_id = $1 AND target_id = $2"
INSERT_SNAPSHOTS = """
INSERT INTO {attainment_snapshots} (agreement_id, position, state)
SELECT a, p, t::jsonb FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(a, p, t)
ON CONFLICT (agreement_id, position) DO NOTHING
"""
INSERT_HISTORY = """
INSERT INTO {attainment_history} VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)
"""


class AttainmentProjection:
    """Attainment per (agreement, target), with the history of its changes."""

    name = "attainment"
    version = 4
    """Raised with every change of its tables or its fold: the projector then rebuilds it."""
    tables = (
        "agreement_years", "agreement_members", "attainment", "attainment_history",
        "attainment_member_figures", "attainment_state", "attainment_snapshots",
    )  # fmt: skip
    types = RELEVANT_TYPES
    ddl = ATTAINMENT_DDL

    def __init__(self) -> None:
        self.states = StateCache()
        """The live fold states between pages (`projections/attainment/cache.py`)."""

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> None:
        """Load the states the batch concerns, apply its events, write back what changed."""
        decoded = [(e, stored_data(e)) for e in events if e.type in RELEVANT_TYPES]
        if not decoded:
            return
        try:
            states, positions, database = await self.states.load(
                connection, *concerned(decoded), tables
            )
            seeds = await earlier_figures(connection, decoded, states)
            batch = Batch(states, lambda jobcenter, year, at: seeds[(jobcenter, year, at)])
            for recorded, data in decoded:
                batch.apply(recorded, data)
            await write(connection, batch, tables)
        except BaseException:
            self.states.forget()  # states may be half applied
            raise
        self.states.keep(database, tables, batch.states, positions | batch.touched)

    def rebuild(self) -> Rebuild:
        """A few jobcenters folded in memory at a time (`projections.attainment.rebuild`)."""
        return REBUILD


Seeds = dict[tuple[str, int, int], list[tuple[Vintage, FigureKey, Month]]]
"""(jobcenter, year, position) -> its figures of the year and the year before recorded before
the position (the batch's `seed`)."""


async def earlier_figures(
    connection: Connection,
    decoded: Sequence[tuple[RecordedEvent, DomainEvent]],
    states: Mapping[str, State],
) -> Seeds:
    """The figures recorded before each event of the batch that brings jobcenters into an
    agreement: a jobcenter's agreement's conclusion (its jobcenter), a member list (the
    jobcenters not members just before it)."""
    wanted: list[tuple[str, int, int]] = []
    years = {agreement_id: state.agreement.year for agreement_id, state in states.items()}
    members = {agreement_id: set(state.members) for agreement_id, state in states.items()}
    for recorded, data in decoded:
        if isinstance(data, AgreementConcluded):
            years.setdefault(data.agreement_id, data.year)
            members.setdefault(data.agreement_id, set())
            if data.jobcenter_id is not None:
                wanted.append((data.jobcenter_id, data.year, recorded.position))
        elif isinstance(data, AgreementMembersSet) and data.agreement_id in years:
            year, before = years[data.agreement_id], members[data.agreement_id]
            wanted += [(j, year, recorded.position) for j in data.jobcenter_ids if j not in before]
            members[data.agreement_id] = set(data.jobcenter_ids)
    seeds: Seeds = {}
    for jobcenter, year, position in wanted:
        [selection] = figure_inputs([jobcenter], year, position - 1)
        found = seeds.setdefault((jobcenter, year, position), [])
        for recorded in await EventStore.select(connection, selection):
            data = decode(recorded)
            assert isinstance(data, FigureEvent)  # FIGURE_TYPES decode to figure events
            found.append((vintage(recorded), *figure_entry(data)))
    return seeds


def concerned(
    decoded: Iterable[tuple[RecordedEvent, object]],
) -> tuple[set[str], set[tuple[str, int]]]:
    """The agreements the events concern: by id, and by (jobcenter, year) for figures (the
    jobcenter's own agreements and those it is a member of)."""
    agreements: set[str] = set()
    years: set[tuple[str, int]] = set()
    for _, data in decoded:
        if isinstance(data, FigureEvent):
            year = figure_year(data)
            years |= {(data.jobcenter_id, year), (data.jobcenter_id, year + 1)}
        elif isinstance(data, AgreementEvent):  # a conclusion too: only the first one counts
            agreements.add(data.agreement_id)
    return agreements, years


async def write(connection: Connection, batch: Batch, tables: Mapping[str, str]) -> None:
    """Write what the batch changed: agreements, states, results, ordinals and history."""
    if batch.concluded:
        await connection.execute(
            UPSERT_AGREEMENT_YEARS.format(**tables), *map(list, zip(*batch.concluded, strict=True))
        )
    if batch.memberships:
        changed = sorted(batch.memberships)
        await connection.execute(DELETE_MEMBERS.format(**tables), changed)
        members = [
            (a, j, batch.memberships[a][0]) for a in changed for j in batch.memberships[a][1]
        ]
        await connection.execute(
            INSERT_MEMBERS.format(**tables), *map(list, zip(*members, strict=True))
        )
    if batch.member_figures:
        figures = [
            member_row(agreement_id, jobcenter_id, batch.states[agreement_id], key)
            for agreement_id, jobcenter_id, key in sorted(batch.member_figures)
        ]
        await connection.executemany(UPSERT_MEMBER_FIGURES.format(**tables), figures)
    touched = sorted(batch.touched)
    if touched:
        states = [encode_state(batch.states[a]) for a in touched]
        positions = [batch.touched[a] for a in touched]
        await connection.execute(UPSERT_STATES.format(**tables), touched, states, positions)
    rows = result_rows(batch, batch.states, batch.changed)
    if rows:
        await connection.executemany(UPSERT_RESULT.format(**tables), rows)
    gone = [(a, t) for a, t in batch.changed if t not in batch.states[a].targets]
    if gone:
        await connection.executemany(DELETE_RESULT.format(**tables), gone)
    moved = []
    for agreement_id, before in batch.orders.items():
        after = list(batch.states[agreement_id].targets)
        moved += [
            (agreement_id, target_id, ordinal)
            for ordinal, target_id in enumerate(after)
            if (agreement_id, target_id) not in batch.changed
            and (target_id not in before or before.index(target_id) != ordinal)
        ]
    if moved:
        await connection.executemany(SET_ORDINAL.format(**tables), moved)
    if history := batch.take_history():
        await connection.executemany(INSERT_HISTORY.format(**tables), history)
    if snapshots := batch.take_snapshots():
        await connection.execute(
            INSERT_SNAPSHOTS.format(**tables), *map(list, zip(*snapshots, strict=True))
        )


ATTAINMENT = AttainmentProjection()
