"""The "agreements" projection: jobcenters and their target agreements as known now.

Invariants: one row per jobcenter, agreement, target, goal and budget line, keyed by their ids,
and one row per dialogue held; a Land or federal agreement's `members` are its latest recorded
member list (empty until one is set), a target's `plan` its latest recorded plan (none after it
is set afresh); events apply in position order, one statement each (a run of
one kind in one round trip), so a later event of the same key overrides an earlier one. A
target's `value_in_force` is its latest recorded amendment's value, else the agreed one (never
scaled by budget); a budget line's `current` is its allocation plus every recorded deviation;
`position` names the event that last changed the row.

Its size: one table definition and one small statement builder per agreement event type. A
rebuild applies windows of the log through `apply` itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from events.catalogue import (
    AgreementClosed,
    AgreementConcluded,
    AgreementMembersSet,
    BudgetAllocated,
    BudgetDeviationRecorded,
    DialogHeld,
    DomainEvent,
    JobcenterRegistered,
    QualitativeGoalSet,
    TargetAmended,
    TargetPlanSet,
    TargetSet,
    TargetWithdrawn,
)
from events.log import RecordedEvent
from projections.engine.decoded import stored_data
from projections.engine.rebuild import Connection, Pages, Rebuild

# The single definition of the tables: the runner creates the live copies from it
# (`ProjectionRunner.ensure_tables`) and the fresh ones of a rebuild.
AGREEMENTS_DDL = (
    """
    CREATE TABLE {jobcenters} (
        jobcenter_id text   NOT NULL PRIMARY KEY,
        name         text   NOT NULL,
        land         text   NOT NULL,
        kind         text   NOT NULL,
        district_key text,
        position     bigint NOT NULL
    )
    """,
    """
    CREATE TABLE {agreements} (
        agreement_id text    NOT NULL PRIMARY KEY,
        jobcenter_id text,
        year         integer NOT NULL,
        level        text    NOT NULL,
        land         text,
        members      text[]  NOT NULL,
        parties      jsonb   NOT NULL,
        signed_on    date,
        title        text,
        status       text    NOT NULL,
        closed_on    date,
        position     bigint  NOT NULL
    )
    """,
    "CREATE INDEX agreements_year_jobcenter_idx ON {agreements} (year, jobcenter_id)",
    """
    CREATE TABLE {targets} (
        agreement_id   text    NOT NULL,
        target_id      text    NOT NULL,
        indicator      text    NOT NULL,
        breakdown      text    NOT NULL,
        comparator     text    NOT NULL,
        unit           text    NOT NULL,
        aggregation    text    NOT NULL,
        budget_line    text,
        label          text,
        agreed_value   numeric NOT NULL,
        value_in_force numeric NOT NULL,
        amendments     jsonb   NOT NULL,
        plan           numeric[],
        withdrawn      boolean NOT NULL,
        position       bigint  NOT NULL,
        PRIMARY KEY (agreement_id, target_id)
    )
    """,
    """
    CREATE TABLE {goals} (
        agreement_id  text   NOT NULL,
        goal_id       text   NOT NULL,
        section       text   NOT NULL,
        text          text   NOT NULL,
        state_support jsonb  NOT NULL,
        position      bigint NOT NULL,
        PRIMARY KEY (agreement_id, goal_id)
    )
    """,
    """
    CREATE TABLE {budget_lines} (
        agreement_id text    NOT NULL,
        budget_line  text    NOT NULL,
        allocated    numeric NOT NULL,
        measures     jsonb   NOT NULL,
        deviations   jsonb   NOT NULL,
        current      numeric NOT NULL,
        position     bigint  NOT NULL,
        PRIMARY KEY (agreement_id, budget_line)
    )
    """,
    """
    CREATE TABLE {dialogs} (
        agreement_id text   NOT NULL,
        held_on      date   NOT NULL,
        summary      text   NOT NULL,
        position     bigint NOT NULL,
        PRIMARY KEY (agreement_id, position)
    )
    """,
)
UPSERT_JOBCENTER = """
INSERT INTO {jobcenters} AS j (jobcenter_id, name, land, kind, district_key, position)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (jobcenter_id) DO UPDATE SET
    name = EXCLUDED.name, land = EXCLUDED.land, kind = EXCLUDED.kind,
    district_key = EXCLUDED.district_key, position = EXCLUDED.position
"""
INSERT_AGREEMENT = """
INSERT INTO {agreements} (
    agreement_id, jobcenter_id, year, level, land, members, parties, signed_on, title, status,
    closed_on, position
)
VALUES ($1, $2, $3, $4, $5, '{{}}', $6, $7, $8, 'open', NULL, $9)
ON CONFLICT (agreement_id) DO NOTHING
"""
SET_MEMBERS = "UPDATE {agreements} SET members = $2, position = $3 WHERE agreement_id = $1"
CLOSE_AGREEMENT = """
UPDATE {agreements} SET status = 'closed', closed_on = $2, position = $3 WHERE agreement_id = $1
"""
UPSERT_TARGET = """
INSERT INTO {targets} AS t (
    agreement_id, target_id, indicator, breakdown, comparator, unit, aggregation, budget_line,
    label, agreed_value, value_in_force, amendments, plan, withdrawn, position
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, '[]'::jsonb, NULL, false, $11)
ON CONFLICT (agreement_id, target_id) DO UPDATE SET
    indicator = EXCLUDED.indicator, breakdown = EXCLUDED.breakdown,
    comparator = EXCLUDED.comparator, unit = EXCLUDED.unit, aggregation = EXCLUDED.aggregation,
    budget_line = EXCLUDED.budget_line, label = EXCLUDED.label,
    agreed_value = EXCLUDED.agreed_value, value_in_force = EXCLUDED.value_in_force,
    amendments = EXCLUDED.amendments, plan = NULL, withdrawn = false,
    position = EXCLUDED.position
"""
SET_PLAN = """
UPDATE {targets} SET plan = $3, position = $4 WHERE agreement_id = $1 AND target_id = $2
"""
AMEND_TARGET = """
UPDATE {targets} SET value_in_force = $3, amendments = amendments || $4::jsonb, position = $5
WHERE agreement_id = $1 AND target_id = $2
"""
WITHDRAW_TARGET = """
UPDATE {targets} SET withdrawn = true, position = $3 WHERE agreement_id = $1 AND target_id = $2
"""
UPSERT_GOAL = """
INSERT INTO {goals} AS g (agreement_id, goal_id, section, text, state_support, position)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (agreement_id, goal_id) DO UPDATE SET
    section = EXCLUDED.section, text = EXCLUDED.text, state_support = EXCLUDED.state_support,
    position = EXCLUDED.position
"""
UPSERT_BUDGET_LINE = """
INSERT INTO {budget_lines} AS b (
    agreement_id, budget_line, allocated, measures, deviations, current, position
)
VALUES ($1, $2, $3, $4, '[]'::jsonb, $3, $5)
ON CONFLICT (agreement_id, budget_line) DO UPDATE SET
    allocated = EXCLUDED.allocated, measures = EXCLUDED.measures,
    current = EXCLUDED.allocated + (b.current - b.allocated), position = EXCLUDED.position
"""
RECORD_DEVIATION = """
UPDATE {budget_lines} SET current = current + $3, deviations = deviations || $4::jsonb,
    position = $5
WHERE agreement_id = $1 AND budget_line = $2
"""
INSERT_DIALOG = """
INSERT INTO {dialogs} (agreement_id, held_on, summary, position) VALUES ($1, $2, $3, $4)
ON CONFLICT (agreement_id, position) DO NOTHING
"""

Statement = tuple[str, tuple[Any, ...]]
"""A statement template (table names as `{placeholders}`) and its bound values."""


def _jobcenter(event: JobcenterRegistered, recorded: RecordedEvent) -> Statement:
    values = (
        event.jobcenter_id, event.name, event.land, event.kind, event.district_key,
        recorded.position,
    )  # fmt: skip
    return UPSERT_JOBCENTER, values


def _concluded(event: AgreementConcluded, recorded: RecordedEvent) -> Statement:
    values = (
        event.agreement_id, event.jobcenter_id, event.year, event.level, event.land,
        list(event.parties), event.signed_on, event.title, recorded.position,
    )  # fmt: skip
    return INSERT_AGREEMENT, values


def _members(event: AgreementMembersSet, recorded: RecordedEvent) -> Statement:
    return SET_MEMBERS, (event.agreement_id, list(event.jobcenter_ids), recorded.position)


def _plan(event: TargetPlanSet, recorded: RecordedEvent) -> Statement:
    values = (event.agreement_id, event.target_id, list(event.plan), recorded.position)
    return SET_PLAN, values


def _closed(event: AgreementClosed, recorded: RecordedEvent) -> Statement:
    return CLOSE_AGREEMENT, (event.agreement_id, event.closed_on, recorded.position)


def _target_set(event: TargetSet, recorded: RecordedEvent) -> Statement:
    values = (
        event.agreement_id, event.target_id, event.indicator, event.breakdown, event.comparator,
        event.unit, event.aggregation, event.budget_line, event.label, event.value,
        recorded.position,
    )  # fmt: skip
    return UPSERT_TARGET, values


def _amended(event: TargetAmended, recorded: RecordedEvent) -> Statement:
    amendment = {
        "value": recorded.data["value"],
        "effective_from": event.effective_from.isoformat(),
        "reason": event.reason,
        "position": recorded.position,
    }
    values = (event.agreement_id, event.target_id, event.value, [amendment], recorded.position)
    return AMEND_TARGET, values


def _withdrawn(event: TargetWithdrawn, recorded: RecordedEvent) -> Statement:
    return WITHDRAW_TARGET, (event.agreement_id, event.target_id, recorded.position)


def _goal(event: QualitativeGoalSet, recorded: RecordedEvent) -> Statement:
    values = (
        event.agreement_id, event.goal_id, event.section, event.text, list(event.state_support),
        recorded.position,
    )  # fmt: skip
    return UPSERT_GOAL, values


def _allocated(event: BudgetAllocated, recorded: RecordedEvent) -> Statement:
    values = (
        event.agreement_id, event.budget_line, event.amount_eur, list(event.measures),
        recorded.position,
    )  # fmt: skip
    return UPSERT_BUDGET_LINE, values


def _deviation(event: BudgetDeviationRecorded, recorded: RecordedEvent) -> Statement:
    deviation = {
        "period": event.period,
        "amount_eur": recorded.data["amount_eur"],
        "reason": event.reason,
        "position": recorded.position,
    }
    values = (event.agreement_id, event.budget_line, event.amount_eur, [deviation])
    return RECORD_DEVIATION, (*values, recorded.position)


def _dialog(event: DialogHeld, recorded: RecordedEvent) -> Statement:
    return INSERT_DIALOG, (event.agreement_id, event.held_on, event.summary, recorded.position)


HANDLERS: Mapping[type[DomainEvent], Callable[[Any, RecordedEvent], Statement]] = {
    JobcenterRegistered: _jobcenter,
    AgreementConcluded: _concluded,
    AgreementMembersSet: _members,
    AgreementClosed: _closed,
    TargetSet: _target_set,
    TargetAmended: _amended,
    TargetWithdrawn: _withdrawn,
    TargetPlanSet: _plan,
    QualitativeGoalSet: _goal,
    BudgetAllocated: _allocated,
    BudgetDeviationRecorded: _deviation,
    DialogHeld: _dialog,
}
HANDLED_TYPES = frozenset(model.event_type for model in HANDLERS)


def statement_for(recorded: RecordedEvent) -> Statement | None:
    """The statement one recorded event makes, or None for a type this projection skips."""
    if recorded.type not in HANDLED_TYPES:
        return None
    event = stored_data(recorded)
    return HANDLERS[type(event)](event, recorded)


class AgreementsProjection:
    """Jobcenters, agreements, targets, goals, budget lines and dialogues as known now."""

    name = "agreements"
    version = 2
    """Raised with every change of its tables or its fold: the projector then rebuilds it."""
    tables = ("jobcenters", "agreements", "targets", "goals", "budget_lines", "dialogs")
    types = HANDLED_TYPES
    ddl = AGREEMENTS_DDL

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> None:
        """Apply `events` in order, one statement per event of a handled type: each run of
        consecutive statements of one template in one round trip (`executemany` runs them in
        the given order, so the order of every statement stays that of the events)."""
        statements = [s for s in map(statement_for, events) if s is not None]
        for template, run in itertools.groupby(statements, key=lambda statement: statement[0]):
            await connection.executemany(template.format(**tables), [values for _, values in run])

    def rebuild(self) -> Rebuild:
        """Windows of the log applied through `apply` (consecutive statements of one kind
        sent together)."""
        return Pages(self)


AGREEMENTS = AgreementsProjection()
