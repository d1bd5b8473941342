"""The § 48a key figures from one jobcenter's base series: which months a key figure is computed
from, which key figures a month enters, and the computation itself. Pure (no IO)."""

import functools
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext

BASE_SERIES = frozenset({"integrations", "elb_stock", "ltb_stock", "llu_eur"})
CODES = ("k1", "k1e2", "k2", "k3")
CHANGES = {"k1": "llu_eur", "k1e2": "elb_stock", "k3": "ltb_stock"}
"""Key figures that compare a series' month with the same month a year earlier."""
Series = Mapping[tuple[str, str], Decimal]
"""(indicator, period) -> value, for one jobcenter and breakdown."""
KeyFigure = tuple[Decimal, Decimal, Decimal]
"""(value, numerator, denominator)."""
Key = tuple[str, str, str, str]
"""(jobcenter_id, indicator, breakdown, period) of a base month."""


@functools.cache  # a few thousand months at most; called ~40 times per recomputed figure
def shift(period: str, months: int) -> str:
    """`period` ("YYYY-MM") moved by `months`."""
    index = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def affected(indicator: str, period: str) -> list[tuple[str, str]]:
    """The (code, period) key figures a month of a base series enters."""
    return list(_affected(indicator, period))


@functools.cache
def _affected(indicator: str, period: str) -> tuple[tuple[str, str], ...]:
    found = []
    if indicator == "integrations":
        found += [("k2", shift(period, n)) for n in range(12)]
    if indicator == "elb_stock":
        found += [("k2", shift(period, n)) for n in range(1, 13)]
    codes = [code for code, series in CHANGES.items() if series == indicator]
    return (*found, *[(code, month) for code in codes for month in (period, shift(period, 12))])


def inputs(code: str, period: str) -> list[tuple[str, str]]:
    """The base months (indicator, period) key figure `code` of `period` is computed from:
    K2 the 12 months of integrations, then the 12 stocks a month earlier; a change the month,
    then the same month a year earlier."""
    return list(_inputs(code, period))


@functools.cache
def _inputs(code: str, period: str) -> tuple[tuple[str, str], ...]:
    if code == "k2":
        months = [shift(period, -n) for n in range(11, -1, -1)]
        earlier = [("elb_stock", shift(m, -1)) for m in months]
        return (*[("integrations", m) for m in months], *earlier)
    return ((CHANGES[code], period), (CHANGES[code], shift(period, -12)))


def value_of(code: str, numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """The key figure's value (percent, 2 decimals) from its numerator and denominator (or
    from the sums of several jobcenters'); None for a zero denominator."""
    if denominator == 0:
        return None
    with localcontext() as context:
        context.prec = 28
        ratio = numerator / denominator
        return _rounded(ratio * 100 if code == "k2" else (ratio - 1) * 100)


def compute(code: str, period: str, series: Series) -> KeyFigure | None:
    """Key figure `code` for `period` from one jobcenter's and breakdown's base series; None
    when a month it needs is missing or its divisor is zero."""
    found = [series.get(month) for month in _inputs(code, period)]
    values = [value for value in found if value is not None]
    if len(values) < len(found):
        return None
    with localcontext() as context:
        context.prec = 28
        if code == "k2":
            numerator, denominator = sum(values[:12], Decimal(0)), sum(values[12:], Decimal(0)) / 12
        else:
            numerator, denominator = values
    value = value_of(code, numerator, denominator)
    return None if value is None else (value, numerator, denominator)


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
