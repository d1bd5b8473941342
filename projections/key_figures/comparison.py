"""A comparison type's statistics of one key figure, breakdown and month, and each member's rank
in it (docs/domain.md, section 11). Pure (no IO), exact decimals.

- quartiles and the median by linear interpolation between the ordered values (the inclusive
  method: position (n - 1) * p, counted from 0), as PostgreSQL's `percentile_cont`, Excel's
  QUARTILE.INKL and R's default (type 7) compute them, so an auditor can recompute them;
- rank 1 is the best value (the highest where higher is better, else the lowest); equal values
  share a rank and the next rank skips as many (1, 2, 2, 4), as SQL's `RANK()` counts.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from decimal import Decimal

from events.indicators import Better, known_indicator

QUARTER, HALF, THREE_QUARTERS = Decimal("0.25"), Decimal("0.5"), Decimal("0.75")
TypeKey = tuple[str, str, str]
"""(typology, typology_version, type_code) of a comparison type."""
Group = tuple[str, str, str, str, str, str]
"""(typology, typology_version, type_code, code, breakdown, period): one type's key figure."""
Member = tuple[Group, str, Decimal]
"""(group, jobcenter_id, value): a member's key figure in its type."""


@dataclass(frozen=True)
class TypeStatistics:
    """The distribution of a key figure over the members of a comparison type."""

    jobcenters: int
    minimum: Decimal
    lower_quartile: Decimal
    median: Decimal
    upper_quartile: Decimal
    maximum: Decimal


def quantile(ordered: Sequence[Decimal], share: Decimal) -> Decimal:
    """The `share` quantile (0 … 1) of values sorted ascending, interpolated linearly between
    the values around position (n - 1) * share."""
    position = (len(ordered) - 1) * share
    below = int(position)
    fraction = position - below
    if fraction == 0:
        return ordered[below]
    return ordered[below] + (ordered[below + 1] - ordered[below]) * fraction


def statistics(values: Iterable[Decimal]) -> TypeStatistics:
    """Count, minimum, quartiles, median and maximum of at least one value."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("a comparison type's statistics need at least one value")
    return TypeStatistics(
        jobcenters=len(ordered),
        minimum=ordered[0],
        lower_quartile=quantile(ordered, QUARTER),
        median=quantile(ordered, HALF),
        upper_quartile=quantile(ordered, THREE_QUARTERS),
        maximum=ordered[-1],
    )


def ranks(values: Mapping[str, Decimal], better: Better) -> dict[str, int]:
    """Each member's rank: 1 + the number of members with a better value."""
    ordered = sorted(values.values(), reverse=better == "higher")
    first: dict[Decimal, int] = {}
    for place, value in enumerate(ordered, start=1):
        first.setdefault(value, place)
    return {member: first[value] for member, value in values.items()}


def better_of(code: str) -> Better | None:
    """Which way key figure `code` improves (events/indicators.py), None if it has no
    direction."""
    known = known_indicator(code)
    return known.better if known else None


def type_rows(
    members: Iterable[Member],
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The statistics rows (group, n, minimum, lower quartile, median, upper quartile, maximum)
    and the rank rows (jobcenter_id, code, breakdown, period, typology, typology_version,
    type_code, rank) of every group that has members."""
    groups: dict[Group, dict[str, Decimal]] = {}
    for group, jobcenter_id, value in members:
        groups.setdefault(group, {})[jobcenter_id] = value
    found: list[tuple[object, ...]] = []
    ranked: list[tuple[object, ...]] = []
    for group, values in sorted(groups.items()):
        typology, version, type_code, code, breakdown, period = group
        found.append((*group, *astuple(statistics(values.values()))))
        better = better_of(code)
        if better is None:
            continue
        ranked += [
            (jobcenter_id, code, breakdown, period, typology, version, type_code, rank)
            for jobcenter_id, rank in sorted(ranks(values, better).items())
        ]
    return found, ranked
