"""Agreements: the list (`GET /agreements`), one agreement with its targets (and their plans),
goals, budget lines, dialogues and, for a Land or federal agreement, its members, and its history
(every recorded event of it and of its jobcenter's figures for its year).

A jobcenter's agreement is in the scope of its jobcenter and its Land; a Land agreement in its
Land's; a federal agreement only in a federal reader's. Members are listed, and counted in
`member_count`, as far as they are in the reader's scope."""

from datetime import date
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from events.envelope import Number
from events.log import RecordedEvent
from services.api.auth import Principal, Reader, scope_sql
from services.api.deps import ERRORS, NOT_FOUND, Limit, Offset, ReadAt, ReadAtDep, Year, page_count
from services.api.errors import ApiError
from services.replay import agreement_history

AGREEMENT_COLUMNS = """
a.agreement_id, a.jobcenter_id, coalesce(a.land, j.land) AS land, a.level, a.year, a.parties,
a.signed_on, a.title, a.status, a.closed_on, a.position
"""
AGREEMENT_LAND = "coalesce(a.land, j.land)"
"""The Land of an agreement: a Land agreement's own, a jobcenter's agreement's jobcenter's."""
SELECT_AGREEMENTS = f"""
SELECT {AGREEMENT_COLUMNS}, count(*) OVER () AS total
FROM views.agreements AS a LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE ($1::integer IS NULL OR a.year = $1) AND ($2::text IS NULL OR a.jobcenter_id = $2)
  AND ($3::text IS NULL OR {AGREEMENT_LAND} = $3)
  AND {scope_sql(AGREEMENT_LAND, "a.jobcenter_id", 6)}
ORDER BY a.year, a.jobcenter_id NULLS FIRST, a.agreement_id LIMIT $4 OFFSET $5
"""
SELECT_AGREEMENT = f"""
SELECT {AGREEMENT_COLUMNS}
FROM views.agreements AS a LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE a.agreement_id = $1
"""
SELECT_MEMBERS = f"""
SELECT m.jobcenter_id, j.name, j.land, j.kind, j.district_key
FROM views.agreements AS a, unnest(a.members) AS m (jobcenter_id)
LEFT JOIN views.jobcenters AS j USING (jobcenter_id)
WHERE a.agreement_id = $1 AND {scope_sql("j.land", "m.jobcenter_id", 2)}
ORDER BY m.jobcenter_id
"""
SELECT_TARGETS = """
SELECT target_id, indicator, breakdown, comparator, unit, aggregation, budget_line, label,
       agreed_value, value_in_force, amendments, plan, withdrawn, position
FROM views.targets WHERE agreement_id = $1 ORDER BY position
"""
SELECT_GOALS = """
SELECT goal_id, section, text, state_support, position
FROM views.goals WHERE agreement_id = $1 ORDER BY position
"""
SELECT_BUDGET_LINES = """
SELECT budget_line, allocated, measures, deviations, current, position
FROM views.budget_lines WHERE agreement_id = $1 ORDER BY position
"""
SELECT_DIALOGS = """
SELECT held_on, summary, position FROM views.dialogs WHERE agreement_id = $1 ORDER BY position
"""

router = APIRouter()


class AgreementSummary(BaseModel):
    """An agreement with its level in the cascade and its status (`open` or `closed`)."""

    agreement_id: str
    jobcenter_id: str | None
    """Its jobcenter (level `jobcenter`); null for a Land or federal agreement."""
    land: str | None
    """Its Land: a Land agreement's own, a jobcenter's agreement's jobcenter's; null for a
    federal agreement."""
    level: Literal["jobcenter", "land", "federal"]
    year: int
    parties: list[str]
    signed_on: date | None
    title: str | None
    status: str
    closed_on: date | None
    position: int


class Agreements(BaseModel):
    """A page of agreements."""

    items: list[AgreementSummary]
    count: int


class Amendment(BaseModel):
    """One recorded amendment of a target."""

    value: Number
    effective_from: date
    reason: str
    position: int


class Target(BaseModel):
    """A target: agreed value, value in force (latest amendment, not budget-scaled)."""

    target_id: str
    indicator: str
    breakdown: str
    comparator: str
    unit: str
    aggregation: str
    budget_line: str | None
    label: str | None
    agreed_value: Number
    value_in_force: Number
    amendments: list[Amendment]
    plan: list[Number] | None
    """The latest agreed monthly plan (*Planwerte*), cumulative, January to December."""
    withdrawn: bool
    position: int


class Goal(BaseModel):
    """A qualitative goal with what the Land does to support it."""

    goal_id: str
    section: str
    text: str
    state_support: list[str]
    position: int


class Deviation(BaseModel):
    """An in-year change of a budget line."""

    period: str
    amount_eur: Number
    reason: str
    position: int


class BudgetLine(BaseModel):
    """A budget line: allocated, its deviations, and the current amount (their sum)."""

    budget_line: str
    allocated: Number
    measures: list[str]
    deviations: list[Deviation]
    current: Number
    position: int


class Dialog(BaseModel):
    """A target dialogue held."""

    held_on: date
    summary: str
    position: int


class Member(BaseModel):
    """A member jobcenter of a Land or federal agreement."""

    jobcenter_id: str
    name: str | None
    land: str | None
    kind: str | None
    district_key: str | None


class AgreementDetail(AgreementSummary):
    """An agreement with its targets, goals, budget lines, dialogues and members."""

    members: list[Member]
    """A Land or federal agreement's members in the reader's scope (empty for a jobcenter's)."""
    member_count: int
    """How many `members` lists."""
    targets: list[Target]
    goals: list[Goal]
    budget_lines: list[BudgetLine]
    dialogs: list[Dialog]


class History(BaseModel):
    """A page of recorded events (as the store holds them), in position order."""

    items: list[RecordedEvent]
    count: int


@router.get("/agreements", responses=ERRORS)
async def agreements(
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    year: Year = None,
    jobcenter_id: str | None = None,
    land: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Agreements:
    """Agreements with their status, by year and jobcenter."""
    async with at.snapshot(response, "agreements") as connection:
        rows = await connection.fetch(
            SELECT_AGREEMENTS, year, jobcenter_id, land, limit, offset, *caller.scope_args()
        )
    items = [AgreementSummary(**dict(r)) for r in rows]
    return Agreements(items=items, count=page_count(rows))


@router.get("/agreements/{agreement_id}", responses=NOT_FOUND)
async def agreement(
    agreement_id: str, at: ReadAtDep, response: Response, caller: Reader
) -> AgreementDetail:
    """The agreement: level, parties, members, targets with their plans, goals, budget lines
    with deviations, dialogues."""
    async with at.snapshot(response, "agreements") as connection:
        row = await connection.fetchrow(SELECT_AGREEMENT, agreement_id)
        if row is None or not caller.sees(row["land"], row["jobcenter_id"]):
            raise ApiError(404, "not_found", f"no agreement {agreement_id!r}")
        members = await connection.fetch(SELECT_MEMBERS, agreement_id, *caller.scope_args())
        parts: dict[str, object] = {
            "members": [dict(r) for r in members], "member_count": len(members),
        }  # fmt: skip
        parts |= {
            name: [dict(r) for r in await connection.fetch(query, agreement_id)]
            for name, query in (
                ("targets", SELECT_TARGETS), ("goals", SELECT_GOALS),
                ("budget_lines", SELECT_BUDGET_LINES), ("dialogs", SELECT_DIALOGS),
            )
        }  # fmt: skip
    return AgreementDetail.model_validate(dict(row) | parts)


@router.get("/agreements/{agreement_id}/history", responses=NOT_FOUND)
async def history(
    agreement_id: str,
    at: ReadAtDep,
    response: Response,
    caller: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
) -> History:
    """Every recorded event of the agreement and of its jobcenter's figures for its year."""
    await require_in_scope(at, caller, agreement_id)
    async with at.snapshot(response, None) as connection:
        head = int(response.headers["X-Position"])
        found = await agreement_history(connection, agreement_id, head, limit, offset)
    if found is None:
        raise ApiError(404, "not_found", f"no agreement {agreement_id!r}")
    items, count = found
    return History(items=items, count=count)


async def require_in_scope(at: ReadAt, caller: Principal, agreement_id: str) -> None:
    """404 unless the agreement's jobcenter is in the caller's scope (federal callers pass)."""
    if caller.federal:
        return
    row = await at.store.pool.fetchrow(SELECT_AGREEMENT, agreement_id)
    if row is None or not caller.sees(row["land"], row["jobcenter_id"]):
        raise ApiError(404, "not_found", f"no agreement {agreement_id!r}")
