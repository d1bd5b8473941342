"""The attainment fold's state as compact JSON, for the projection's `attainment_state` table,
and a roll-up's member figures as rows of `attainment_member_figures` (a federal agreement's are
hundreds of thousands: written as they change, not with every state).

Invariant: `with_member_figures(decode_state(encode_state(s)), member_rows(s))` gives back a
state equal to `s`, Decimals exactly (written as strings, so 66.50 stays 66.50), targets in
their order.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from events.catalogue import AgreementConcluded, TargetSet
from projections.attainment.aggregations import Month, Signature
from projections.attainment.calculation import FigureKey, State, Vintage


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _model_text(model: AgreementConcluded | TargetSet) -> str:
    """A model's fields as JSON text, Decimals and dates as strings."""
    return json.dumps(model.model_dump(exclude_unset=True), default=str, separators=(",", ":"))


def _signature(signature: Signature | None) -> list[Any] | None:
    if signature is None:
        return None
    actual, target_value, status, months = signature
    return [_text(actual), str(target_value), status, months]


def encode_state(state: State) -> str:
    """The state as JSON text. Its models and figure rows are encoded once each: the text of
    each is kept in `state.encoded` and reused while the part is the same object (models are
    frozen; a figure in force is replaced, never changed in place)."""
    document = {
        "amended": {tid: str(value) for tid, value in state.amended.items()},
        "plans": {tid: [str(value) for value in plan] for tid, plan in state.plans.items()},
        "allocated": {line: str(value) for line, value in state.allocated.items()},
        "deviations": {line: str(value) for line, value in state.deviations.items()},
        "members": list(state.members),
        "closed_at": state.closed_at,
        "revised": sorted(state.revised),
        "at_close": {tid: _signature(sig) for tid, sig in state.at_close.items()},
        "events": state.events,
    }
    encoded: dict[Any, tuple[object, str]] = {}
    kept = state.encoded
    parts: list[tuple[Any, Any]] = [(None, state.agreement), *state.targets.items()]
    parts += sorted(state.figures.items())
    for key, part in parts:
        found = kept.get(key)
        if found is None or found[0] is not part:
            found = (part, _row(key, part) if isinstance(part, tuple) else _model_text(part))
        encoded[key] = found
    state.encoded = encoded
    texts = [text for _, text in encoded.values()]
    targets = len(state.targets) + 1
    return (
        f'{json.dumps(document, separators=(",", ":"))[:-1]},"agreement":{texts[0]},'
        f'"targets":[{",".join(texts[1:targets])}],"figures":[{",".join(texts[targets:])}]}}'
    )


def _row(key: FigureKey, entry: tuple[Vintage, Month]) -> str:
    """A figure as a JSON row: its key, vintage and numbers (series and breakdowns are slugs,
    written without escaping)."""
    indicator, breakdown, year, month = key
    (occurred_us, position), figure = entry
    numerator, denominator = figure.numerator, figure.denominator
    return (
        f'["{indicator}","{breakdown}",{year},{month},{occurred_us},{position},"{figure.value!s}",'
        f"{_quoted(numerator)},{_quoted(denominator)}]"
    )


def _quoted(value: Decimal | None) -> str:
    """A Decimal as a JSON string (`null` for None)."""
    return "null" if value is None else f'"{value!s}"'


def _figures(rows: list[list[Any]]) -> dict[FigureKey, tuple[Vintage, Month]]:
    """The figures of a state from their JSON rows."""
    figures: dict[FigureKey, tuple[Vintage, Month]] = {}
    for indicator, breakdown, year, month, occurred_us, position, value, num, den in rows:
        figure = Month(Decimal(value), _number(num), _number(den))
        figures[(indicator, breakdown, year, month)] = ((occurred_us, position), figure)
    return figures


def decode_state(document: dict[str, Any]) -> State:
    """The state from its JSON document."""
    targets = [TargetSet.model_validate(target) for target in document["targets"]]
    return State(
        agreement=AgreementConcluded.model_validate(document["agreement"]),
        targets={target.target_id: target for target in targets},
        amended={tid: Decimal(value) for tid, value in document["amended"].items()},
        plans={
            tid: tuple(Decimal(value) for value in plan)
            for tid, plan in document.get("plans", {}).items()
        },
        allocated={line: Decimal(value) for line, value in document["allocated"].items()},
        deviations={line: Decimal(value) for line, value in document["deviations"].items()},
        figures=_figures(document["figures"]),
        members=tuple(document.get("members", ())),
        closed_at=document["closed_at"],
        revised=set(document["revised"]),
        at_close={
            tid: None if sig is None else (_number(sig[0]), Decimal(sig[1]), sig[2], sig[3])
            for tid, sig in document["at_close"].items()
        },
        events=document.get("events", 0),
    )


MemberRow = tuple[str, str, str, str, int, int, int, int, Decimal, Decimal | None, Decimal | None]
"""A row of `attainment_member_figures`: agreement, jobcenter, indicator, breakdown, year,
month, the vintage (`occurred_at` in µs, position), value, numerator, denominator."""


def member_row(agreement_id: str, jobcenter_id: str, state: State, key: FigureKey) -> MemberRow:
    """The row of one member figure of a roll-up's state."""
    (occurred_us, position), figure = state.member_figures[jobcenter_id][key]
    indicator, breakdown, year, month = key
    return (
        agreement_id, jobcenter_id, indicator, breakdown, year, month, occurred_us, position,
        figure.value, figure.numerator, figure.denominator,
    )  # fmt: skip


def member_rows(agreement_id: str, state: State) -> list[MemberRow]:
    """Every member figure of a roll-up's state as rows."""
    return [
        member_row(agreement_id, jobcenter_id, state, key)
        for jobcenter_id, figures in state.member_figures.items()
        for key in sorted(figures)
    ]


def with_member_figures(state: State, rows: list[MemberRow]) -> State:
    """`state` with the member figures of `rows` (its own agreement's) put back."""
    for row in rows:
        _, jobcenter_id, indicator, breakdown, year, month, occurred_us, position = row[:8]
        value, numerator, denominator = row[8:]
        state.member_figures.setdefault(jobcenter_id, {})[(indicator, breakdown, year, month)] = (
            (occurred_us, position), Month(value, numerator, denominator),
        )  # fmt: skip
    return state
