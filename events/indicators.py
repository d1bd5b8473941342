"""Known indicator slugs (docs/domain.md): default aggregation and the sign/share rules of values.

Invariant: a slug not in the table is allowed everywhere; no sign or share rule applies to it.
The rule checks raise pydantic errors whose type is the rejection code (`negative_value`, ...).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic_core import PydanticCustomError

Aggregation = Literal[
    "sum", "mean", "quota", "ratio", "mean_rate", "last", "change_of_sum", "change_of_mean"
]
CHANGE_AGGREGATIONS: frozenset[Aggregation] = frozenset({"change_of_sum", "change_of_mean"})
Kind = Literal["accumulating", "level", "change"]
Better = Literal["higher", "lower"]
"""Which way a key figure improves, by the goal of § 48a SGB II it measures (docs/domain.md,
section 11.2): less need of assistance (K1, K1E1, K1E2, K1E3 lower), more integration into
employment (K2, K2E3, K2E4, K1E4 higher), less long-term receipt (K3, K3E3 lower; K3E1, K3E2,
K3E4 higher)."""
KINDS: dict[Aggregation, Kind] = {
    "sum": "accumulating", "quota": "accumulating",
    "mean": "level", "ratio": "level", "mean_rate": "level", "last": "level",
    "change_of_sum": "change", "change_of_mean": "change",
}  # fmt: skip
"""How a year's result grows (docs/domain.md, section 4): accumulating month by month, a level
comparable with the year's target from the first month, or a change against the year before."""
ROLLING_QUOTAS = frozenset({"k2", "k2e1", "k2e2", "k2e4", "k3e1"})
"""Key figures published as a rolling twelve-month quota: a year's result is the latest month's."""
LEVEL_CHANGES = frozenset({"k1", "k1e1", "k1e2", "k3"})
"""Key figures published as this month's level over the same month's a year earlier: a year's
result is the change of the levels (numerators against denominators)."""


@dataclass(frozen=True)
class Indicator:
    """A known indicator: its default yearly aggregation and its value rules."""

    slug: str
    aggregation: Aggregation
    share: bool = False
    better: Better | None = None
    """For a key figure with a direction: whether a higher or a lower value is better (rank 1
    in its comparison type); None where the goals give none (K2E1, K2E2: entries into mini-jobs
    and publicly funded jobs describe the kind of integration, not its success)."""

    @property
    def key_figure(self) -> bool:
        """Whether the slug is a § 48a key figure's code (`k1` ... `k3e4`)."""
        return self.slug.startswith("k")

    @property
    def non_negative(self) -> bool:
        """Whether a monthly value below zero is impossible (everything but changes)."""
        return self.aggregation not in CHANGE_AGGREGATIONS


def _table(*indicators: Indicator) -> dict[str, Indicator]:
    """Index indicators by slug."""
    return {indicator.slug: indicator for indicator in indicators}


INDICATORS: dict[str, Indicator] = _table(
    # Base series: counts, stocks and EUR amounts.
    Indicator("integrations", "sum"),
    Indicator("ltb_stock", "mean"),
    Indicator("elb_stock", "mean"),
    Indicator("llu_eur", "sum"),
    Indicator("u25_training_integrations", "sum"),
    # Shares: the numerator is a part of the denominator.
    Indicator("continuous_employment", "ratio", share=True),
    Indicator("k2e3", "ratio", share=True, better="higher"),
    Indicator("k1e3", "mean_rate", share=True, better="lower"),
    Indicator("k1e4", "mean_rate", share=True, better="higher"),
    Indicator("k3e3", "mean_rate", share=True, better="lower"),
    Indicator("k3e4", "mean_rate", share=True, better="higher"),
    Indicator("k3e2", "last", share=True, better="higher"),
    # Quotas: a 12-month sum over a mean stock may exceed 100 %.
    Indicator("k2", "quota", better="higher"),
    Indicator("k2e1", "quota"),
    Indicator("k2e2", "quota"),
    Indicator("k2e4", "quota", better="higher"),
    Indicator("k3e1", "quota", better="higher"),
    # Changes against the year before: may be negative.
    Indicator("k1", "change_of_sum", better="lower"),
    Indicator("k1e1", "change_of_sum", better="lower"),
    Indicator("k1e2", "change_of_mean", better="lower"),
    Indicator("k3", "change_of_mean", better="lower"),
)


def known_indicator(slug: str) -> Indicator | None:
    """The known indicator for `slug`, or None when the slug is not in the table."""
    return INDICATORS.get(slug)


def own_construction(indicator: str, aggregation: Aggregation) -> bool:
    """Whether a target on `indicator` with `aggregation` takes the key figure's own
    construction: a rolling quota or a change of levels, named by its own aggregation."""
    known = known_indicator(indicator)
    special = indicator in ROLLING_QUOTAS or indicator in LEVEL_CHANGES
    return special and known is not None and known.aggregation == aggregation


def check_target_value(indicator: str, aggregation: Aggregation, value: Decimal) -> None:
    """Only a target on a change against the year before may be negative; a target on a key
    figure's code names the key figure's own aggregation (it takes the key figure's
    construction, docs/domain.md section 4.4)."""
    if value < 0 and aggregation not in CHANGE_AGGREGATIONS:
        raise _negative_error("value", indicator)
    known = known_indicator(indicator)
    if known and known.key_figure and aggregation != known.aggregation:
        raise PydanticCustomError(
            "key_figure_aggregation",
            "key figure '{indicator}' is aggregated by its own construction '{own}', "
            "not '{aggregation}'",
            {"field": "aggregation", "indicator": indicator, "own": known.aggregation,
             "aggregation": aggregation},
        )  # fmt: skip


def check_figure(
    indicator: str, value: Decimal, numerator: Decimal | None, denominator: Decimal | None
) -> None:
    """Apply a known indicator's sign rule to `value` and its share rule to the parts."""
    known = known_indicator(indicator)
    if known and known.non_negative and value < 0:
        raise _negative_error("value", indicator)
    if known and known.share and _above(numerator, denominator):
        raise PydanticCustomError(
            "numerator_above_denominator",
            "{numerator} is above the denominator {denominator} of share '{indicator}'",
            {
                "field": "numerator",
                "numerator": str(numerator),
                "denominator": str(denominator),
                "indicator": indicator,
            },
        )


def _above(numerator: Decimal | None, denominator: Decimal | None) -> bool:
    """Whether both parts are given and the part exceeds the whole."""
    return numerator is not None and denominator is not None and numerator > denominator


def _negative_error(field: str, indicator: str) -> PydanticCustomError:
    """The error for a negative value where the series cannot be negative."""
    return PydanticCustomError(
        "negative_value",
        "must not be negative for indicator '{indicator}'",
        {"field": field, "indicator": indicator},
    )
