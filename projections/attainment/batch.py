"""Applying recorded events to the fold states of many agreements at once, noting what changed:
the in-memory core of the attainment projection, shared by its live batches and its rebuild.

Invariants: each event is decoded once and applied, in position order, to the state of every
agreement it concerns (an agreement event to its agreement; a figure to the agreements of its
jobcenter, and the Land and federal agreements it is a member of, for the figure's year and the
year after); a jobcenter that becomes a member brings its figures recorded before (`seed`, as a
conclusion does); after each event only the targets it
touches are recomputed; a target's row is due when its result changed, a history entry when a
compared field changed (`projections.attainment.results.compared`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import localcontext
from typing import Any

from events.catalogue import (
    AgreementConcluded,
    AgreementEvent,
    AgreementMembersSet,
    DomainEvent,
    FigureEvent,
)
from events.log import CanonicalJson, RecordedEvent
from projections.attainment.aggregations import Month, Outcome
from projections.attainment.calculation import (
    CONTEXT,
    Evaluation,
    FigureKey,
    State,
    Vintage,
    apply,
    evaluate,
    new_state,
    published_figure,
    put_jobcenter_figure,
    touches,
)
from projections.attainment.codec import encode_state
from projections.attainment.inputs import RELEVANT_TYPES, decode
from projections.attainment.results import compared

SNAPSHOT_EVERY = 200
"""Events folded into an agreement between two of its snapshots (`snapshots.py`): about two a
year (an agreement takes in its own events and its jobcenter's figures of two years)."""
COMPACT = json.JSONEncoder(separators=(",", ":"))
"""`json.dumps(..., separators=(",", ":"))` without making an encoder for each row."""
Seed = Callable[[str, int, int], Iterable[tuple[Vintage, FigureKey, Month]]]
"""A jobcenter's figures of a year and the year before, recorded before a position (of the
conclusion of its agreement, or of a member list naming it): `seed(jobcenter, year, position)`
gives (vintage, key, figure), in position order."""
Concluded = tuple[str, str | None, int, str, str | None]
"""(agreement, jobcenter, year, level, land) of an agreement concluded."""


def figure_year(event: FigureEvent) -> int:
    """The year of a figure's period."""
    return event.year_month[0]


@dataclass
class Batch:
    """States of agreements (by id) and what applying events to them changed."""

    states: dict[str, State]
    seed: Seed
    history: list[tuple[object, ...]] = field(default_factory=list)
    changed: dict[tuple[str, str], int] = field(default_factory=dict)
    """(agreement, target) -> position of the last event that changed its result."""
    concluded: list[Concluded] = field(default_factory=list)
    """The agreements concluded in this batch."""
    memberships: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    """Roll-up whose members this batch set -> (its year, its members now)."""
    member_figures: set[tuple[str, str, FigureKey]] = field(default_factory=set)
    """(roll-up, jobcenter, key) of the member figures this batch put."""
    touched: dict[str, int] = field(default_factory=dict)
    """Agreement whose state changed -> the position of the last event applied to it."""
    orders: dict[str, list[str]] = field(default_factory=dict)
    """Agreement -> its target order before this batch changed it."""
    current: dict[tuple[str, str], Evaluation | None] = field(default_factory=dict)
    snapshots: list[tuple[object, ...]] = field(default_factory=list)
    """(agreement, position, state as JSON) every `snapshot_every` events of an agreement."""
    snapshot_every: int = field(default_factory=lambda: SNAPSHOT_EVERY)
    by_year: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for agreement_id, state in self.states.items():
            self._index(agreement_id, state)

    def _index(self, agreement_id: str, state: State) -> None:
        """File the agreement under the (jobcenter, year) of each jobcenter it reads."""
        for jobcenter in _jobcenters(state):
            self.by_year.setdefault((jobcenter, state.agreement.year), []).append(agreement_id)

    def _unindex(self, agreement_id: str, state: State) -> None:
        for jobcenter in _jobcenters(state):
            self.by_year[(jobcenter, state.agreement.year)].remove(agreement_id)

    def add(self, events: Iterable[RecordedEvent]) -> None:
        """Apply `events` (in position order); types other than the fold's are skipped."""
        for recorded in events:
            if recorded.type in RELEVANT_TYPES:
                self.apply(recorded, decode(recorded))

    def apply(self, recorded: RecordedEvent, event: DomainEvent) -> None:
        """Apply one decoded event to every agreement it concerns."""
        if isinstance(event, AgreementConcluded):
            self._conclude(recorded.position, event)
        elif isinstance(event, AgreementMembersSet):
            if event.agreement_id in self.states:
                self._set_members(recorded, event)
        elif isinstance(event, AgreementEvent):
            if event.agreement_id in self.states:
                self._apply(event.agreement_id, recorded, event)
        elif isinstance(event, FigureEvent):
            year = figure_year(event)
            for key in ((event.jobcenter_id, year), (event.jobcenter_id, year + 1)):
                for agreement_id in self.by_year.get(key, ()):
                    self._apply(agreement_id, recorded, event)

    def _conclude(self, position: int, event: AgreementConcluded) -> None:
        if event.agreement_id in self.states:
            return  # only the first conclusion counts
        state = new_state(event)
        if event.jobcenter_id is not None:
            self._seed(state, event.jobcenter_id, position)
        self.states[event.agreement_id] = state
        self._index(event.agreement_id, state)
        self.concluded.append(
            (event.agreement_id, event.jobcenter_id, event.year, event.level, event.land)
        )
        self.touched[event.agreement_id] = position

    def _seed(self, state: State, jobcenter_id: str, position: int) -> None:
        """Bring in the jobcenter's figures recorded before `position`."""
        agreement_id = state.agreement.agreement_id
        with localcontext(CONTEXT):
            for published, key, figure in self.seed(jobcenter_id, state.agreement.year, position):
                put_jobcenter_figure(state, jobcenter_id, published, key, figure)
                self._note_member_figure(agreement_id, state, jobcenter_id, key)

    def _note_member_figure(
        self, agreement_id: str, state: State, jobcenter_id: str, key: FigureKey
    ) -> None:
        """Note a roll-up's member figure to be written, if the state keeps it."""
        if key in state.member_figures.get(jobcenter_id, {}):
            self.member_figures.add((agreement_id, jobcenter_id, key))

    def _set_members(self, recorded: RecordedEvent, event: AgreementMembersSet) -> None:
        """A roll-up's new member list: the joining jobcenters' figures recorded before it come
        in, the index follows, and every target is measured anew."""
        state = self.states[event.agreement_id]
        self._unindex(event.agreement_id, state)
        for jobcenter_id in event.jobcenter_ids:
            if jobcenter_id not in state.members:
                self._seed(state, jobcenter_id, recorded.position)
        self._apply(event.agreement_id, recorded, event)
        self._index(event.agreement_id, state)
        self.memberships[event.agreement_id] = (state.agreement.year, state.members)

    def _apply(self, agreement_id: str, recorded: RecordedEvent, event: DomainEvent) -> None:
        state = self.states[agreement_id]
        position = recorded.position
        self.touched[agreement_id] = position
        if agreement_id not in self.orders:
            self.orders[agreement_id] = list(state.targets)
        targets = touches(state, event)
        for target_id in targets:
            key = (agreement_id, target_id)
            if key not in self.current:
                self.current[key] = evaluate(state, target_id)
        outcomes: dict[str, Outcome] = {}
        changing = apply(state, recorded, event, targets, outcomes)
        if state.events % self.snapshot_every == 0 and not state.agreement.roll_up:
            self.snapshots.append((agreement_id, position, CanonicalJson(encode_state(state))))
        if state.agreement.roll_up and isinstance(event, FigureEvent):
            _, figure_key, _ = published_figure(recorded, event)
            self._note_member_figure(agreement_id, state, event.jobcenter_id, figure_key)
        for target_id in changing:
            key = (agreement_id, target_id)
            old, new = self.current[key], evaluate(state, target_id, outcomes.get(target_id))
            if old == new:
                continue
            self.current[key] = new
            self.changed[key] = position
            before, after = compared(old), compared(new)
            if before != after:
                self.history.append(_history(agreement_id, target_id, recorded, before, after))

    def take_history(self) -> list[tuple[object, ...]]:
        """The history rows noted so far, forgetting them."""
        rows, self.history = self.history, []
        return rows

    def take_snapshots(self) -> list[tuple[object, ...]]:
        """The snapshots taken so far, forgetting them."""
        rows, self.snapshots = self.snapshots, []
        return rows


def _jobcenters(state: State) -> tuple[str, ...]:
    """The jobcenters whose figures an agreement reads now: its own, or a roll-up's members."""
    jobcenter_id = state.agreement.jobcenter_id
    return state.members if jobcenter_id is None else (jobcenter_id,)


def _history(
    agreement_id: str,
    target_id: str,
    recorded: RecordedEvent,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
) -> tuple[object, ...]:
    """A history row, in table order (old and new as JSON text, stored as it is)."""
    return (
        agreement_id, target_id, recorded.position, recorded.event_id, recorded.type,
        recorded.recorded_at, _text(old), _text(new),
    )  # fmt: skip


def _text(values: Mapping[str, Any] | None) -> CanonicalJson | None:
    """Compared values as JSON text (plain numbers, strings and booleans: no normalising)."""
    return None if values is None else CanonicalJson(COMPACT.encode(values))


def result_rows(
    batch: Batch, states: Mapping[str, State], changed: Mapping[tuple[str, str], int]
) -> list[tuple[object, ...]]:
    """The attainment rows of the active targets whose result changed, in table order."""
    rows: list[tuple[object, ...]] = []
    for (agreement_id, target_id), position in changed.items():
        state = states[agreement_id]
        evaluation = batch.current.get((agreement_id, target_id))
        if evaluation is None or target_id not in state.targets:
            continue
        t, agreement = evaluation.result(), state.agreement
        rows.append((
            agreement_id, target_id, list(state.targets).index(target_id), agreement.jobcenter_id,
            agreement.year, t.indicator, t.breakdown, t.comparator, t.unit, t.aggregation,
            t.label, t.budget_line, t.agreed_value, t.target_value, t.actual, t.months_reported,
            t.expected_to_date, t.forecast, t.attainment_pct, t.status, t.final,
            t.revised_after_close, position, t.plan_basis, t.plan_path, t.baseline,
            t.target_level, t.actual_level,
        ))  # fmt: skip
    return rows
