"""A year's result to date from monthly figures, one pure function per aggregation (docs/domain.md).

Invariants: Decimal arithmetic only, nothing rounded; an undefined result (no usable month, a
zero divisor) is None, never an exception.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from events.indicators import Aggregation

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Month:
    """The figure in force for one month of a series."""

    value: Decimal
    numerator: Decimal | None = None
    denominator: Decimal | None = None


Series = Mapping[int, Month]  # month number (1-12) -> figure in force


def _fractions(series: Series) -> list[tuple[Decimal, Decimal]]:
    """(numerator, denominator) of the months that give both, in month order."""
    return [
        (month.numerator, month.denominator)
        for _, month in sorted(series.items())
        if month.numerator is not None and month.denominator is not None
    ]


def _percent(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator / denominator * 100, None for a zero denominator."""
    return None if denominator == 0 else numerator / denominator * HUNDRED


def _sum(series: Series) -> Decimal:
    """Σ values."""
    return sum((month.value for month in series.values()), Decimal(0))


def _mean(series: Series) -> Decimal | None:
    """Mean of values, None without months."""
    return _sum(series) / len(series) if series else None


def aggregate_sum(year: Series, prior: Series) -> Decimal | None:
    """`sum`: Σ values of the months reported."""
    return _sum(year) if year else None


def aggregate_mean(year: Series, prior: Series) -> Decimal | None:
    """`mean`: mean of the values of the months reported."""
    return _mean(year)


def aggregate_quota(year: Series, prior: Series) -> Decimal | None:
    """`quota`: Σ numerators / mean of denominators * 100, over months giving both."""
    fractions = _fractions(year)
    if not fractions:
        return None
    mean_denominator = sum((den for _, den in fractions), Decimal(0)) / len(fractions)
    return _percent(sum((num for num, _ in fractions), Decimal(0)), mean_denominator)


def aggregate_ratio(year: Series, prior: Series) -> Decimal | None:
    """`ratio`: Σ numerators / Σ denominators * 100, over months giving both."""
    fractions = _fractions(year)
    if not fractions:
        return None
    numerators = sum((num for num, _ in fractions), Decimal(0))
    return _percent(numerators, sum((den for _, den in fractions), Decimal(0)))


def aggregate_mean_rate(year: Series, prior: Series) -> Decimal | None:
    """`mean_rate`: mean of monthly numerator / denominator * 100 (zero denominators skipped)."""
    rates = [rate for num, den in _fractions(year) if (rate := _percent(num, den)) is not None]
    return sum(rates, Decimal(0)) / len(rates) if rates else None


def aggregate_last(year: Series, prior: Series) -> Decimal | None:
    """`last`: the latest month's numerator / denominator * 100 where both are given, else value."""
    if not year:
        return None
    month = year[max(year)]
    if month.numerator is not None and month.denominator is not None:
        return _percent(month.numerator, month.denominator)
    return month.value


def _change(
    year: Series, prior: Series, over: Callable[[Series], Decimal | None]
) -> Decimal | None:
    """(over(Y) / over(Y-1) - 1) * 100 on the months present in both years."""
    both = year.keys() & prior.keys()
    now = over({month: year[month] for month in both})
    before = over({month: prior[month] for month in both})
    if not both or now is None or before is None or before == 0:
        return None
    return (now / before - 1) * HUNDRED


def aggregate_change_of_sum(year: Series, prior: Series) -> Decimal | None:
    """`change_of_sum`: change of Σ values against the same months a year earlier, in %."""
    return _change(year, prior, _sum)


def aggregate_change_of_mean(year: Series, prior: Series) -> Decimal | None:
    """`change_of_mean`: change of the mean value against the same months a year earlier, in %."""
    return _change(year, prior, _mean)


AGGREGATE: dict[Aggregation, Callable[[Series, Series], Decimal | None]] = {
    "sum": aggregate_sum,
    "mean": aggregate_mean,
    "quota": aggregate_quota,
    "ratio": aggregate_ratio,
    "mean_rate": aggregate_mean_rate,
    "last": aggregate_last,
    "change_of_sum": aggregate_change_of_sum,
    "change_of_mean": aggregate_change_of_mean,
}


def actual(aggregation: Aggregation, year: Series, prior: Series) -> Decimal | None:
    """The result to date of `year`'s months (`prior`: the same series a year earlier)."""
    return AGGREGATE[aggregation](year, prior)
