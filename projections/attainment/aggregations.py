"""A year's result to date from monthly figures (docs/domain.md, section 4): one pure function
per aggregation for the actual, and `judge`, which gives a target's numbers by the kind of its
aggregation (accumulating along a plan path, a level, a change judged on levels).

Invariants: Decimal arithmetic only, nothing rounded but `attainment_pct`; an undefined result
(no usable month, a zero divisor) is None, never an exception; shares of the year are kept as
fractions (part, whole) and multiplied before dividing, so a jobcenter exactly on its path is
exactly on it.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from events.indicators import KINDS, ROLLING_QUOTAS, Aggregation, Kind, own_construction
from projections.attainment.answers import Comparator, PlanBasis, Status

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Month:
    """The figure in force for one month of a series (slots: a national projector holds about
    a million of them)."""

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


def aggregate_sum(year: Series) -> Decimal | None:
    """`sum`: Σ values of the months reported."""
    return _sum(year) if year else None


def aggregate_mean(year: Series) -> Decimal | None:
    """`mean`: mean of the values of the months reported."""
    return _mean(year)


def aggregate_quota(year: Series) -> Decimal | None:
    """`quota`: Σ numerators / mean of denominators * 100, over months giving both."""
    fractions = _fractions(year)
    if not fractions:
        return None
    mean_denominator = sum((den for _, den in fractions), Decimal(0)) / len(fractions)
    return _percent(sum((num for num, _ in fractions), Decimal(0)), mean_denominator)


def aggregate_ratio(year: Series) -> Decimal | None:
    """`ratio`: Σ numerators / Σ denominators * 100, over months giving both."""
    fractions = _fractions(year)
    if not fractions:
        return None
    numerators = sum((num for num, _ in fractions), Decimal(0))
    return _percent(numerators, sum((den for _, den in fractions), Decimal(0)))


def aggregate_mean_rate(year: Series) -> Decimal | None:
    """`mean_rate`: mean of monthly numerator / denominator * 100 (zero denominators skipped)."""
    rates = [rate for num, den in _fractions(year) if (rate := _percent(num, den)) is not None]
    return sum(rates, Decimal(0)) / len(rates) if rates else None


def aggregate_last(year: Series) -> Decimal | None:
    """`last`: the latest month's numerator / denominator * 100 where both are given, else value."""
    if not year:
        return None
    month = year[max(year)]
    if month.numerator is not None and month.denominator is not None:
        return _percent(month.numerator, month.denominator)
    return month.value


AGGREGATE: dict[Aggregation, Callable[[Series], Decimal | None]] = {
    # The changes are judged on levels (`levels`, `_change_on_levels`), not aggregated here.
    "sum": aggregate_sum,
    "mean": aggregate_mean,
    "quota": aggregate_quota,
    "ratio": aggregate_ratio,
    "mean_rate": aggregate_mean_rate,
    "last": aggregate_last,
}


def actual(aggregation: Aggregation, year: Series) -> Decimal | None:
    """The result to date of `year`'s months of an accumulating or level aggregation."""
    return AGGREGATE[aggregation](year)


Signature = tuple[Decimal | None, Decimal, str, int]
CENT = Decimal("0.01")
MONTHS = range(1, 13)


@dataclass(frozen=True)
class Target:
    """What `judge` needs of one target: its rule, its value in force and its figures."""

    indicator: str
    aggregation: Aggregation
    comparator: Comparator
    target_value: Decimal
    year: Series
    """The figures in force of the months of Y reported so far."""
    prior: Series
    """The same series' figures of Y-1."""
    plan: tuple[Decimal, ...] | None = None
    """The agreed cumulative plan, January to December (`TargetPlanSet`), if any."""
    closed: bool = False


@dataclass(frozen=True)
class Outcome:
    """One target's computed numbers (docs/contract.md, the attainment answer)."""

    target_value: Decimal
    actual: Decimal | None
    months_reported: int
    expected_to_date: Decimal | None
    forecast: Decimal | None
    attainment_pct: Decimal | None
    status: Status
    final: bool
    plan_basis: PlanBasis | None = None
    plan_path: tuple[Decimal, ...] = ()
    """The Soll of every month, January to December: what the target expects by its end."""
    baseline: Decimal | None = None
    """Change targets: B, Y-1's sum or mean over the months compared."""
    target_level: Decimal | None = None
    """Change targets: T = B x (1 + target_value / 100)."""
    actual_level: Decimal | None = None
    """Change targets: A, Y's sum or mean over the months compared."""

    @property
    def signature(self) -> Signature:
        """What makes a change of the result: actual, target value, status, months."""
        return self.actual, self.target_value, self.status, self.months_reported


def kind_of(indicator: str, aggregation: Aggregation) -> Kind:
    """The kind of a target's result: a rolling key-figure quota is a level."""
    if indicator in ROLLING_QUOTAS and own_construction(indicator, aggregation):
        return "level"
    return KINDS[aggregation]


def judge(target: Target) -> Outcome:
    """A target's numbers to date, by the kind of its aggregation."""
    kind = kind_of(target.indicator, target.aggregation)
    if kind == "accumulating":
        return _accumulating(target)
    if kind == "change":
        return _change_on_levels(target)
    return _level(target)


Share = tuple[Decimal, Decimal]
"""A share of the year as (part, whole), whole > 0."""


def plan_shares(target: Target) -> tuple[PlanBasis, list[Share], Share | None]:
    """The plan basis, the share of every month (cumulative, January to December) and the share
    of the months reported (None without any), the first basis that applies."""
    months = sorted(target.year)
    if target.plan is not None:
        whole = target.plan[-1]
        reported = (target.plan[months[-1] - 1], whole) if months else None
        return "agreed_plan", [(part, whole) for part in target.plan], reported
    weights = _profile(target)
    if weights is not None:
        whole = sum(weights.values(), Decimal(0))
        running, shares = Decimal(0), []
        for month in MONTHS:
            running += weights[month]
            shares.append((running, whole))
        part = sum((weights[month] for month in months), Decimal(0))
        return "prior_year_profile", shares, (part, whole) if months else None
    twelve = Decimal(12)
    shares = [(Decimal(month), twelve) for month in MONTHS]
    return "linear", shares, (Decimal(len(months)), twelve) if months else None


def _profile(target: Target) -> dict[int, Decimal] | None:
    """Last year's monthly weights (values; for `quota` its numerators) when Y-1 has all twelve
    months and a positive total, else None."""
    weights: dict[int, Decimal] = {}
    for month in MONTHS:
        figure = target.prior.get(month)
        weight = None if figure is None else figure.value
        if figure is not None and target.aggregation == "quota":
            weight = figure.numerator
        if weight is None:
            return None
        weights[month] = weight
    return weights if sum(weights.values(), Decimal(0)) > 0 else None


def _accumulating(target: Target) -> Outcome:
    """`sum`, `quota`: the result grows along the plan path (the plan share of the months)."""
    result = actual(target.aggregation, target.year)
    final = _final(target)
    value = target.target_value
    basis, shares, reported = plan_shares(target)
    expected = forecast = None
    if reported is not None:
        part, whole = reported
        expected = value if final else value * part / whole
        if result is not None:
            forecast = result if final else (result * whole / part if part else None)
    return Outcome(
        target_value=value,
        actual=result,
        months_reported=len(target.year),
        expected_to_date=expected,
        forecast=forecast,
        attainment_pct=attainment_pct(target.comparator, result, expected),
        status=_status(target, result, forecast, expected, final),
        final=final,
        plan_basis=basis,
        plan_path=tuple(value * part / whole for part, whole in shares),
    )


def _level(target: Target) -> Outcome:
    """`mean`, `ratio`, `mean_rate`, `last` and the rolling key-figure quotas: comparable with
    the year's target from the first month."""
    if target.aggregation == "quota":  # a level quota is a rolling key-figure quota
        result = aggregate_last(target.year)
    else:
        result = actual(target.aggregation, target.year)
    final = _final(target)
    value = target.target_value
    expected = value if target.year else None
    forecast = result
    if result is not None and not final and target.aggregation == "mean":
        forecast = _mean_forecast(target, result)
    return Outcome(
        target_value=value,
        actual=result,
        months_reported=len(target.year),
        expected_to_date=expected,
        forecast=forecast,
        attainment_pct=attainment_pct(target.comparator, result, expected),
        status=_status(target, result, forecast, expected, final),
        final=final,
        plan_path=(value,) * 12,
    )


def _mean_forecast(target: Target, result: Decimal) -> Decimal:
    """A `mean`'s forecast: the actual x (Y-1's mean over twelve months ÷ its mean over the
    months reported) when Y-1 is complete, else the actual; as sums, so that a series exactly
    on last year's season is exactly on it."""
    reported = _sum({month: target.prior[month] for month in target.year if month in target.prior})
    if len(target.prior) < 12 or not reported:
        return result
    return _sum(target.year) * _sum(target.prior) / (12 * reported)


def levels(target: Target) -> tuple[Decimal, Decimal] | None:
    """(A, B) of a change target: Y's and Y-1's sum (or mean) over the months compared; None
    without such a month. A key figure published as this month's level over the same month's a
    year earlier gives both in each month of Y (numerator, denominator); otherwise the months
    present in both years count."""
    over = _sum if target.aggregation == "change_of_sum" else _mean
    now: dict[int, Month] = {}
    before: dict[int, Month] = {}
    if own_construction(target.indicator, target.aggregation):
        for month, figure in target.year.items():
            if figure.numerator is not None and figure.denominator is not None:
                now[month], before[month] = Month(figure.numerator), Month(figure.denominator)
    else:
        for month in target.year.keys() & target.prior.keys():
            now[month], before[month] = target.year[month], target.prior[month]
    level, baseline = over(now), over(before)
    if not now or level is None or baseline is None:
        return None
    return level, baseline


def _change_on_levels(target: Target) -> Outcome:
    """`change_of_sum`, `change_of_mean`: a percentage against Y-1, judged on the levels."""
    final = _final(target)
    value = target.target_value
    found = levels(target)
    result = level = baseline = goal = None
    if found is not None:
        level, baseline = found
        goal = baseline * (1 + value / 100)
        result = (level / baseline - 1) * HUNDRED if baseline else None
    expected = value if target.year else None
    return Outcome(
        target_value=value,
        actual=result,
        months_reported=len(target.year),
        expected_to_date=expected,
        forecast=result,
        attainment_pct=attainment_pct(target.comparator, level, goal),
        status=_status(target, result, result, expected, final),
        final=final,
        plan_path=(value,) * 12,
        baseline=baseline,
        target_level=goal,
        actual_level=level,
    )


def _final(target: Target) -> bool:
    """The agreement is closed, or all twelve months of the series are reported."""
    return target.closed or len(target.year) == 12


def meets(comparator: Comparator, value: Decimal, target_value: Decimal) -> bool:
    """Whether `value` meets `target_value` (≥ for at_least, ≤ for at_most)."""
    return value >= target_value if comparator == "at_least" else value <= target_value


def _status(
    target: Target,
    result: Decimal | None,
    forecast: Decimal | None,
    expected: Decimal | None,
    final: bool,
) -> Status:
    """no_data, achieved/missed once final, on_track/at_risk before (by the forecast; where
    the plan expects nothing yet and so gives no forecast, by what it expects to date)."""
    if result is None or not target.year:
        return "no_data"
    if final:
        return "achieved" if meets(target.comparator, result, target.target_value) else "missed"
    if forecast is not None:
        on_track = meets(target.comparator, forecast, target.target_value)
    else:
        on_track = expected is not None and meets(target.comparator, result, expected)
    return "on_track" if on_track else "at_risk"


def attainment_pct(
    comparator: Comparator, reached: Decimal | None, expected: Decimal | None
) -> Decimal | None:
    """reached ÷ expected x 100 (`at_least`) or expected ÷ reached x 100 (`at_most`), to 2
    decimals half up; None where the division is undefined."""
    if reached is None or expected is None:
        return None
    dividend, divisor = (reached, expected) if comparator == "at_least" else (expected, reached)
    if divisor == 0:
        return None
    return (dividend / divisor * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
