"""Applying recorded events to the fold states of many agreements at once, noting what changed:
the in-memory core of the attainment projection, shared by its live batches and its rebuild.

Invariants: each event is decoded once and applied, in position order, to the state of every
agreement it concerns (an agreement event to its agreement; a figure to the agreements of its
jobcenter for the figure's year and the year after); after each event only the targets it
touches are recomputed; a target's row is due when its result changed, a history entry when a
compared field changed (`projections.attainment.results.compared`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from events.catalogue import AgreementConcluded, AgreementEvent, DomainEvent, FigureEvent
from events.log import CanonicalJson, RecordedEvent
from projections.attainment.aggregations import Month
from projections.attainment.calculation import (
    Evaluation,
    FigureKey,
    State,
    Vintage,
    apply,
    evaluate,
    new_state,
    put_figure,
    touches,
)
from projections.attainment.codec import encode_state
from projections.attainment.inputs import RELEVANT_TYPES, decode, jobcenter_of
from projections.attainment.results import compared

SNAPSHOT_EVERY = 200
"""Events folded into an agreement between two of its snapshots (`snapshots.py`): about two a
year (an agreement takes in its own events and its jobcenter's figures of two years)."""
COMPACT = json.JSONEncoder(separators=(",", ":"))
"""`json.dumps(..., separators=(",", ":"))` without making an encoder for each row."""
Seed = Callable[[AgreementConcluded, int], Iterable[tuple[Vintage, FigureKey, Month]]]
"""The jobcenter's figures (Y-1 and Y) recorded before an agreement's conclusion at a position:
(position, key, figure), in position order."""


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
    concluded: list[tuple[str, str, int]] = field(default_factory=list)
    """(agreement, jobcenter, year) concluded in this batch."""
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
        key = (jobcenter_of(state.agreement), state.agreement.year)
        self.by_year.setdefault(key, []).append(agreement_id)

    def add(self, events: Iterable[RecordedEvent]) -> None:
        """Apply `events` (in position order); types other than the fold's are skipped."""
        for recorded in events:
            if recorded.type in RELEVANT_TYPES:
                self.apply(recorded, decode(recorded))

    def apply(self, recorded: RecordedEvent, event: DomainEvent) -> None:
        """Apply one decoded event to every agreement it concerns."""
        if isinstance(event, AgreementConcluded):
            if not event.roll_up:  # Land and federal agreements: not measured yet
                self._conclude(recorded.position, event)
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
        for published, key, figure in self.seed(event, position):
            put_figure(state, published, key, figure)
        self.states[event.agreement_id] = state
        self._index(event.agreement_id, state)
        self.concluded.append((event.agreement_id, jobcenter_of(event), event.year))
        self.touched[event.agreement_id] = position

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
        apply(state, recorded, event, targets)
        if state.events % self.snapshot_every == 0:
            self.snapshots.append((agreement_id, position, CanonicalJson(encode_state(state))))
        for target_id in targets:
            key = (agreement_id, target_id)
            old, new = self.current[key], evaluate(state, target_id)
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
            agreement_id, target_id, list(state.targets).index(target_id), jobcenter_of(agreement),
            agreement.year, t.indicator, t.breakdown, t.comparator, t.unit, t.aggregation,
            t.label, t.budget_line, t.agreed_value, t.target_value, t.actual, t.months_reported,
            t.expected_to_date, t.forecast, t.attainment_pct, t.status, t.final,
            t.revised_after_close, position, t.plan_basis, t.plan_path, t.baseline,
            t.target_level, t.actual_level,
        ))  # fmt: skip
    return rows
