"""A comparison type's statistics and ranks (projections/key_figures/comparison.py), computed by
hand; the quartiles also against Python's own inclusive quantiles."""

import random
import statistics as python_statistics
from decimal import Decimal
from fractions import Fraction

import pytest

from events.indicators import known_indicator
from projections.key_figures.comparison import TypeStatistics, ranks, statistics, type_rows


def numbers(*values: str) -> list[Decimal]:
    return [Decimal(value) for value in values]


def test_one_member_is_its_own_distribution_and_first() -> None:
    assert statistics(numbers("12.34")) == TypeStatistics(
        1, *numbers("12.34", "12.34", "12.34", "12.34", "12.34")
    )
    assert ranks({"06437": Decimal("12.34")}, "higher") == {"06437": 1}


def test_an_odd_count_has_its_middle_value_as_median() -> None:
    # positions (n - 1) * p = 4 * 0.25, 4 * 0.5, 4 * 0.75 = 1, 2, 3: values themselves
    found = statistics(numbers("5", "1", "4", "2", "3"))

    assert found == TypeStatistics(5, *numbers("1", "2", "3", "4", "5"))


def test_an_even_count_interpolates_between_the_values() -> None:
    # n = 4: positions 0.75, 1.5, 2.25 -> 1 + 0.75 * 1, 2 + 0.5 * 1, 3 + 0.25 * 1
    found = statistics(numbers("4", "3", "2", "1"))

    assert found == TypeStatistics(4, *numbers("1", "1.75", "2.5", "3.25", "4"))


def test_quartiles_with_ties_and_negative_changes() -> None:
    # sorted: -10.00, -3.50, -3.50, 2.00, 7.25, 7.25; n - 1 = 5: positions 1.25, 2.5, 3.75
    found = statistics(numbers("7.25", "-3.50", "2.00", "-10.00", "7.25", "-3.50"))

    assert found.lower_quartile == Decimal("-3.50")  # -3.50 + 0.25 * 0
    assert found.median == Decimal("-0.75")  # -3.50 + 0.5 * 5.50
    assert found.upper_quartile == Decimal("5.9375")  # 2.00 + 0.75 * 5.25
    assert (found.minimum, found.maximum, found.jobcenters) == (
        Decimal("-10.00"),
        Decimal("7.25"),
        6,
    )


def test_no_value_has_no_statistics() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        statistics([])


@pytest.mark.parametrize("seed", range(20))
def test_quartiles_equal_the_inclusive_method_of_python(seed: int) -> None:
    rng = random.Random(seed)
    values = [Decimal(rng.randint(-5000, 5000)) / 100 for _ in range(rng.randint(2, 40))]
    expected = python_statistics.quantiles([Fraction(v) for v in values], n=4, method="inclusive")

    found = statistics(values)

    assert [Fraction(found.lower_quartile), Fraction(found.median),
            Fraction(found.upper_quartile)] == expected  # fmt: skip


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    values = {"a": Decimal("10"), "b": Decimal("12"), "c": Decimal("12"), "d": Decimal("8")}

    assert ranks(values, "higher") == {"b": 1, "c": 1, "a": 3, "d": 4}
    assert ranks(values, "lower") == {"d": 1, "a": 2, "b": 3, "c": 3}


def test_directions_of_the_computed_key_figures() -> None:
    directions = {code: getattr(known_indicator(code), "better", None)
                  for code in ("k1", "k1e2", "k2", "k3", "k2e1")}  # fmt: skip

    assert directions == {"k1": "lower", "k1e2": "lower", "k2": "higher", "k3": "lower",
                          "k2e1": None}  # fmt: skip


def test_type_rows_group_by_type_and_rank_only_with_a_direction() -> None:
    iib = ("SGB-II-Typisierung des IAB", "2024", "IIb")
    members = [
        ((*iib, "k3", "total", "2024-03"), "06437", Decimal("-2.00")),
        ((*iib, "k3", "total", "2024-03"), "06435", Decimal("1.00")),
        ((*iib, "k3", "total", "2024-03"), "05162", Decimal("-4.00")),
        ((*iib, "k2e1", "total", "2024-03"), "06437", Decimal("3.00")),
    ]

    found, ranked = type_rows(members)

    assert found == [
        (*iib, "k2e1", "total", "2024-03", 1, *numbers("3.00", "3.00", "3.00", "3.00", "3.00")),
        (*iib, "k3", "total", "2024-03", 3, *numbers("-4.00", "-3.00", "-2.00", "-0.50", "1.00")),
    ]
    assert ranked == [
        ("05162", "k3", "total", "2024-03", *iib, 1),
        ("06435", "k3", "total", "2024-03", *iib, 3),
        ("06437", "k3", "total", "2024-03", *iib, 2),
    ]
