"""The figures' pure rules: the publication in force of a month and the consistency flags of a
total and its parts (see `projections.figures.projection`). Pure (no IO)."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from events.catalogue import FIGURE_TYPES, FigureEvent, MonthlyFigureCorrected
from events.indicators import known_indicator
from events.log import RecordedEvent
from projections.engine.decoded import stored_data

FigureKey = tuple[str, str, str, str]
"""(jobcenter_id, indicator, breakdown, period)."""
Decode = Callable[[RecordedEvent], FigureEvent]
"""How a figure event's data is read: validated (live), or trusted (a rebuild's stored rows)."""
GroupKey = tuple[str, str, str]
"""(jobcenter_id, indicator, period): a total and its parts."""

BREAKDOWN_SUM_EXCEEDS_TOTAL = "breakdown_sum_exceeds_total"
FRACTION_MISSING = "fraction_missing"
WAITING_PERIOD = "waiting_period"
TOTAL = "total"
PARTS = ("women", "men")
ADDITIVE = frozenset({"sum", "mean"})
"""Default aggregations of series whose values add up over a breakdown (counts, stocks, EUR)."""


@dataclass(frozen=True)
class FigureRow:
    """The change one batch makes to one figure: its publication in force and how many it saw."""

    jobcenter_id: str
    indicator: str
    breakdown: str
    period: str
    value: Decimal
    numerator: Decimal | None
    denominator: Decimal | None
    status: str
    publications: int
    position: int
    recorded_at: datetime
    occurred_at: datetime
    last_reason: str | None

    @property
    def revision_count(self) -> int:
        """The publications after the first one among those seen (0: published once)."""
        return self.publications - 1

    @property
    def published(self) -> tuple[datetime, int]:
        """The publication order: the source's `occurred_at`, then the position."""
        return self.occurred_at, self.position


def decode_figure(event: RecordedEvent) -> FigureEvent:
    """The typed data of a figure publication, decoded once per process (`stored_data`)."""
    figure = stored_data(event)
    assert isinstance(figure, FigureEvent)  # FIGURE_TYPES decode to figure events
    return figure


def figure_row(event: RecordedEvent, decode: Decode = decode_figure) -> FigureRow:
    """The row one figure publication sets (counting as one publication)."""
    figure = decode(event)
    return FigureRow(
        jobcenter_id=figure.jobcenter_id,
        indicator=figure.indicator,
        breakdown=figure.breakdown,
        period=figure.period,
        value=figure.value,
        numerator=figure.numerator,
        denominator=figure.denominator,
        status=figure.status,
        publications=1,
        position=event.position,
        recorded_at=event.recorded_at,
        occurred_at=event.occurred_at,
        last_reason=figure.reason if isinstance(figure, MonthlyFigureCorrected) else None,
    )


def fold_figures(
    events: Iterable[RecordedEvent],
    rows: dict[FigureKey, FigureRow] | None = None,
    decode: Decode = decode_figure,
) -> list[FigureRow]:
    """One row per figure touched by `events`, folded into `rows` when given: the publication
    published last (`FigureRow.published`) is in force, `publications` counts them all; other
    types are ignored. The result does not depend on the order of `events`."""
    rows = {} if rows is None else rows
    for event in events:
        if event.type not in FIGURE_TYPES:
            continue
        row = figure_row(event, decode)
        key = (row.jobcenter_id, row.indicator, row.breakdown, row.period)
        seen = rows.get(key)
        if seen is None:
            rows[key] = row
        elif row.published > seen.published:
            rows[key] = replace(row, publications=seen.publications + 1)
        else:
            rows[key] = replace(seen, publications=seen.publications + 1)
    return list(rows.values())


@dataclass(frozen=True)
class Amounts:
    """What the flags look at in one figure row."""

    value: Decimal
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    occurred_at: datetime | None = None
    """When the source published the figure in force."""


def waiting_period_ends(period: str) -> datetime:
    """The end of the BA's three-month waiting period of a month: the first instant (UTC) of
    the fourth month after it (July's ends when October does)."""
    year, month = int(period[:4]), int(period[5:7]) + 4
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def in_waiting_period(period: str, occurred_at: datetime | None) -> bool:
    """Whether a figure was published before its month's waiting period ended (preliminary)."""
    return occurred_at is not None and occurred_at < waiting_period_ends(period)


def needs_fraction(indicator: str) -> bool:
    """Whether a figure of `indicator` is computed from a numerator and a denominator that its
    yearly aggregation needs: a known share, or a known quota."""
    known = known_indicator(indicator)
    return known is not None and (known.share or known.aggregation == "quota")


def group_flags(indicator: str, rows: Mapping[str, Amounts]) -> dict[str, list[str]]:
    """Breakdown -> the flags of each figure of one (jobcenter, indicator, period), given the
    figures in force by breakdown.

    - `fraction_missing` on any row without numerator or denominator where `needs_fraction`;
    - `breakdown_sum_exceeds_total` on the total row when the parts present (women, men) add up
      to more than the total: their values for an additive series (a known slug aggregated by
      `sum` or `mean`, or an unknown slug); their numerators or denominators (each where the
      total and every present part carry it) for a known rate, share, quota or change, whose
      values do not add up.
    """
    flags: dict[str, list[str]] = {breakdown: [] for breakdown in rows}
    if needs_fraction(indicator):
        for breakdown, amounts in rows.items():
            if amounts.numerator is None or amounts.denominator is None:
                flags[breakdown].append(FRACTION_MISSING)
    total = rows.get(TOTAL)
    parts = [rows[part] for part in PARTS if part in rows]
    if total is not None and parts and _parts_exceed(indicator, total, parts):
        flags[TOTAL].insert(0, BREAKDOWN_SUM_EXCEEDS_TOTAL)
    return flags


def _parts_exceed(indicator: str, total: Amounts, parts: list[Amounts]) -> bool:
    """Whether the parts add up to more than the total (see `group_flags`)."""
    known = known_indicator(indicator)
    if known is None or known.aggregation in ADDITIVE:
        return sum(part.value for part in parts) > total.value
    for field in ("numerator", "denominator"):
        whole: Decimal | None = getattr(total, field)
        amounts: list[Decimal | None] = [getattr(part, field) for part in parts]
        if whole is not None and None not in amounts and sum(a or 0 for a in amounts) > whole:
            return True
    return False


def flags_by_key(rows: Iterable[tuple[FigureKey, Amounts]]) -> dict[FigureKey, list[str]]:
    """The flags of every figure, given all figures in force of the groups they belong to."""
    groups: dict[GroupKey, dict[str, Amounts]] = {}
    for (jobcenter_id, indicator, breakdown, period), amounts in rows:
        groups.setdefault((jobcenter_id, indicator, period), {})[breakdown] = amounts
    return {
        (jobcenter_id, indicator, breakdown, period): found
        + ([WAITING_PERIOD] if in_waiting_period(period, group[breakdown].occurred_at) else [])
        for (jobcenter_id, indicator, period), group in groups.items()
        for breakdown, found in group_flags(indicator, group).items()
    }


def key_of(row: FigureRow) -> FigureKey:
    return (row.jobcenter_id, row.indicator, row.breakdown, row.period)


def row_values(row: FigureRow) -> tuple[object, ...]:
    """`row` in the column order of `UPSERT_FIGURES`; an upsert onto an existing row adds one
    for the batch's first publication, which is then a revision too."""
    return (
        row.jobcenter_id, row.indicator, row.breakdown, row.period, row.value, row.numerator,
        row.denominator, row.status, row.revision_count, row.position, row.recorded_at,
        row.occurred_at, row.last_reason,
    )  # fmt: skip
