"""The attainment projection's rebuild: the fold over the log in memory, a few jobcenters at a
time, its tables written by COPY.

Invariants: an agreement's state depends only on its own stream and on its jobcenters' figure
streams (`projections.attainment.calculation`: figures of other jobcenters never reach it), so
the log splits into independent groups, one per jobcenter: its figure streams and the streams of
the agreements whose first conclusion names it; a Land or federal agreement joins the groups of
every jobcenter any of its member lists names (a federal agreement joins them all). Folding a
group's events in position order gives the rows the whole log's fold gives for its agreements;
memory holds the groups being folded, not ten years (with a federal agreement: every group).
"""

from __future__ import annotations

from collections.abc import Sequence

from events.catalogue import FIGURE_TYPES, AgreementConcluded, AgreementMembersSet, FigureEvent
from events.log import CanonicalJson, RecordedEvent, Selection
from events.store import EventStore, Group
from events.trusted import is_figure, trusted_figure
from projections.attainment.aggregations import Month
from projections.attainment.batch import Batch, result_rows
from projections.attainment.calculation import (
    FigureKey,
    Vintage,
    figure_entry,
    vintage,
)
from projections.attainment.codec import encode_state, member_rows
from projections.attainment.inputs import RELEVANT_TYPES, decode
from projections.engine.rebuild import Groups, Rows, join_groups

AGREEMENT_TYPES = RELEVANT_TYPES - FIGURE_TYPES


class AttainmentFold:
    """Folds events in memory; history rows leave with each page, the rest at the end."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[FigureKey, tuple[Vintage, Month]]] = {}
        """Jobcenter -> the latest figure of each (series, month), for agreements to come."""
        self.batch = Batch({}, self._seed)

    def _seed(self, jobcenter_id: str, year: int, _: int) -> list[tuple[Vintage, FigureKey, Month]]:
        """The jobcenter's figures of `year` and the year before folded so far (all recorded
        before the event being applied)."""
        figures = self.figures.get(jobcenter_id, {})
        return sorted(
            (published, key, figure)
            for key, (published, figure) in figures.items()
            if key[2] in (year - 1, year)
        )

    def add(self, events: Sequence[RecordedEvent]) -> Rows:
        """Apply a page; the history rows it made."""
        for recorded in events:
            if recorded.type not in RELEVANT_TYPES:
                continue
            data = trusted_figure(recorded) if is_figure(recorded) else decode(recorded)
            if isinstance(data, FigureEvent):
                key, figure = figure_entry(data)
                known = self.figures.setdefault(data.jobcenter_id, {})
                published = vintage(recorded)
                if key not in known or known[key][0] <= published:
                    known[key] = (published, figure)
            self.batch.apply(recorded, data)
        return {"attainment_history": self.batch.take_history()}

    def finish(self) -> Rows:
        """The agreements, results and states at the end."""
        batch = self.batch
        years = [
            (a, s.agreement.jobcenter_id, s.agreement.year, s.agreement.level, s.agreement.land)
            for a, s in batch.states.items()
        ]
        members = [
            (a, jobcenter, s.agreement.year)
            for a, s in batch.states.items()
            if s.agreement.roll_up
            for jobcenter in s.members
        ]
        return {
            "agreement_years": years,
            "agreement_members": members,
            "attainment": result_rows(batch, batch.states, batch.changed),
            "attainment_member_figures": [
                row
                for agreement_id, state in batch.states.items()
                for row in member_rows(agreement_id, state)
            ],
            "attainment_state": [
                (agreement_id, CanonicalJson(encode_state(state)), batch.touched[agreement_id])
                for agreement_id, state in batch.states.items()
            ],
            "attainment_history": batch.take_history(),
            "attainment_snapshots": batch.take_snapshots(),
        }


async def jobcenters(store: EventStore, until: int) -> list[Group]:
    """Per jobcenter: its figure streams and the streams of its agreements (by their first
    conclusion) and of the Land and federal agreements any member list of which names it (one
    without members is a group of its own); streams of agreements never concluded are left out
    (the fold skips them)."""
    owners: dict[str, list[str]] = {}
    named: dict[str, set[str]] = {}
    cascade = Selection(
        types=[AgreementConcluded.event_type, AgreementMembersSet.event_type], until=until
    )
    for recorded in await store.select(store.pool, cascade):
        agreement_id = recorded.data["agreement_id"]
        if recorded.type == AgreementMembersSet.event_type:
            named.setdefault(agreement_id, set()).update(recorded.data["jobcenter_ids"])
        elif agreement_id not in owners:
            jobcenter_id = recorded.data.get("jobcenter_id")
            owners[agreement_id] = [f"agreement:{agreement_id}"] + (
                [f"jobcenter:{jobcenter_id}"] if jobcenter_id is not None else []
            )
    figures, figure_sizes = await store.stream_keys(until, FIGURE_TYPES, "jobcenter_id")
    agreements, agreement_sizes = await store.stream_keys(until, AGREEMENT_TYPES, "agreement_id")
    keys = {s: [f"jobcenter:{j}" for j in found] for s, found in figures.items()}
    for stream, found in agreements.items():
        if in_groups := [
            key
            for a in found
            if a in owners
            for key in [*owners[a], *(f"jobcenter:{j}" for j in sorted(named.get(a, ())))]
        ]:
            keys[stream] = in_groups
    return join_groups(keys, figure_sizes | agreement_sizes)


def fold(events: Sequence[RecordedEvent]) -> Rows:
    """Every row of the agreements whose groups `events` (in position order) are."""
    folding = AttainmentFold()
    history = folding.add(events)["attainment_history"]
    rows = dict(folding.finish())
    rows["attainment_history"] = [*history, *rows["attainment_history"]]
    return rows


REBUILD = Groups(RELEVANT_TYPES, jobcenters, fold)
"""A fresh fold for each few jobcenters (see the module's invariants)."""
