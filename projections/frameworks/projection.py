"""The "frameworks" projection: Land framework agreements (*Rahmenvereinbarungen*), the
jobcenters that joined them with their catalogues of measures, and the progress reported.

Invariants: one row per framework and per (framework, member jobcenter), one row per reported
measure (keyed by its position); events apply in position order, one statement each, so
applying an event twice changes nothing; `position` names the event that last changed the row.
The ingest guarantees a framework exists before anyone joins it and a member before it reports.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from events.catalogue import (
    DomainEvent,
    FrameworkAgreementConcluded,
    FrameworkJoined,
    FrameworkMeasureReported,
)
from events.log import RecordedEvent
from projections.engine.decoded import stored_data
from projections.engine.rebuild import Connection, Pages, Rebuild

# The single definition of the tables: the runner creates the live copies from it
# (`ProjectionRunner.ensure_tables`) and the fresh ones of a rebuild.
FRAMEWORKS_DDL = (
    """
    CREATE TABLE {frameworks} (
        framework_id  text   NOT NULL PRIMARY KEY,
        land          text   NOT NULL,
        title         text   NOT NULL,
        parties       jsonb  NOT NULL,
        signed_on     date,
        join_deadline date,
        goals         jsonb  NOT NULL,
        position      bigint NOT NULL
    )
    """,
    """
    CREATE TABLE {framework_members} (
        framework_id text   NOT NULL,
        jobcenter_id text   NOT NULL,
        joined_on    date   NOT NULL,
        approved_by  jsonb  NOT NULL,
        approved_on  date,
        measures     jsonb  NOT NULL,
        position     bigint NOT NULL,
        PRIMARY KEY (framework_id, jobcenter_id)
    )
    """,
    "CREATE INDEX framework_members_jobcenter_idx ON {framework_members} (jobcenter_id)",
    """
    CREATE TABLE {framework_reports} (
        framework_id text   NOT NULL,
        jobcenter_id text   NOT NULL,
        measure      text   NOT NULL,
        text         text   NOT NULL,
        period       text,
        position     bigint NOT NULL,
        PRIMARY KEY (framework_id, position)
    )
    """,
)
UPSERT_FRAMEWORK = """
INSERT INTO {frameworks} (
    framework_id, land, title, parties, signed_on, join_deadline, goals, position
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (framework_id) DO NOTHING
"""
INSERT_MEMBER = """
INSERT INTO {framework_members} (
    framework_id, jobcenter_id, joined_on, approved_by, approved_on, measures, position
)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (framework_id, jobcenter_id) DO NOTHING
"""
INSERT_REPORT = """
INSERT INTO {framework_reports} (framework_id, jobcenter_id, measure, text, period, position)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (framework_id, position) DO NOTHING
"""

Statement = tuple[str, tuple[Any, ...]]


def _concluded(event: FrameworkAgreementConcluded, recorded: RecordedEvent) -> Statement:
    values = (
        event.framework_id, event.land, event.title, list(event.parties), event.signed_on,
        event.join_deadline, list(event.goals), recorded.position,
    )  # fmt: skip
    return UPSERT_FRAMEWORK, values


def _joined(event: FrameworkJoined, recorded: RecordedEvent) -> Statement:
    values = (
        event.framework_id, event.jobcenter_id, event.joined_on, list(event.approved_by),
        event.approved_on, list(event.measures), recorded.position,
    )  # fmt: skip
    return INSERT_MEMBER, values


def _reported(event: FrameworkMeasureReported, recorded: RecordedEvent) -> Statement:
    values = (
        event.framework_id, event.jobcenter_id, event.measure, event.text, event.period,
        recorded.position,
    )  # fmt: skip
    return INSERT_REPORT, values


HANDLERS: Mapping[type[DomainEvent], Callable[[Any, RecordedEvent], Statement]] = {
    FrameworkAgreementConcluded: _concluded,
    FrameworkJoined: _joined,
    FrameworkMeasureReported: _reported,
}
HANDLED_TYPES = frozenset(model.event_type for model in HANDLERS)


class FrameworksProjection:
    """Framework agreements, their members with their measures, and measure reports."""

    name = "frameworks"
    version = 1
    """Raised with every change of its tables or its fold: the projector then rebuilds it."""
    tables = ("frameworks", "framework_members", "framework_reports")
    types = HANDLED_TYPES

    ddl = FRAMEWORKS_DDL

    async def apply(
        self, connection: Connection, events: Sequence[RecordedEvent], tables: Mapping[str, str]
    ) -> None:
        """Apply `events` in order, one statement per event of a handled type: each run of
        consecutive statements of one template in one round trip (`executemany` keeps the
        order)."""
        statements = [
            HANDLERS[type(event)](event, recorded)
            for recorded in events
            if recorded.type in HANDLED_TYPES
            for event in [stored_data(recorded)]
        ]
        for template, run in itertools.groupby(statements, key=lambda statement: statement[0]):
            await connection.executemany(template.format(**tables), [values for _, values in run])

    def rebuild(self) -> Rebuild:
        """Windows of the log applied through `apply` (its events are few)."""
        return Pages(self)


FRAMEWORKS = FrameworksProjection()
