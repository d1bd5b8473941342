"""The key figures K1, K2, K3 from base series, by hand-computed cases (no IO)."""

from decimal import Decimal

from projections.key_figures.calculation import CODES, affected, compute, inputs, shift, value_of
from projections.key_figures.projection import INPUT_SPAN


def months(first: str, count: int) -> list[str]:
    return [shift(first, n) for n in range(count)]


def k2_series(stock_2021_12: int = 1000) -> dict[tuple[str, str], Decimal]:
    series = {("integrations", m): Decimal(10) for m in months("2022-01", 12)}
    series |= {("elb_stock", m): Decimal(1000) for m in months("2021-12", 12)}
    series[("elb_stock", "2021-12")] = Decimal(stock_2021_12)
    return series


def test_k2_is_twelve_months_of_integrations_over_the_mean_stock_a_month_earlier() -> None:
    # 12 x 10 = 120 integrations over a mean stock of 1000 (2021-12 .. 2022-11): 12 %.
    assert compute("k2", "2022-12", k2_series()) == (Decimal("12.00"), 120, 1000)
    # (1120 + 11 x 1000) / 12 = 1010; 120 / 1010 = 11.881... %
    value, numerator, denominator = compute("k2", "2022-12", k2_series(1120)) or (0, 0, 0)
    assert (value, numerator, denominator) == (Decimal("11.88"), 120, 1010)


def test_k2_needs_every_month() -> None:
    series = k2_series()
    del series[("elb_stock", "2022-11")]  # the stock before the last integration month

    assert compute("k2", "2022-12", series) is None
    assert compute("k2", "2023-01", k2_series()) is None  # no integrations in 2023-01
    assert compute("k2", "2022-12", k2_series(0) | {
        ("elb_stock", m): Decimal(0) for m in months("2021-12", 12)
    }) is None  # fmt: skip


def test_k3_and_k1_compare_with_the_same_month_a_year_earlier() -> None:
    ltb = {("ltb_stock", "2022-03"): Decimal(1900), ("ltb_stock", "2021-03"): Decimal(2000)}
    llu = {("llu_eur", "2022-06"): Decimal(2046300), ("llu_eur", "2021-06"): Decimal(1931500)}

    assert compute("k3", "2022-03", ltb) == (Decimal("-5.00"), 1900, 2000)  # 1900/2000 - 1
    assert compute("k1", "2022-06", llu) == (Decimal("5.94"), 2046300, 1931500)  # 1.05943...
    assert compute("k3", "2022-04", ltb) is None
    assert compute("k3", "2022-03", ltb | {("ltb_stock", "2021-03"): Decimal(0)}) is None


def test_a_changed_month_names_every_key_figure_it_enters() -> None:
    assert affected("integrations", "2022-01") == [("k2", m) for m in months("2022-01", 12)]
    assert affected("elb_stock", "2022-01") == [("k2", m) for m in months("2022-02", 12)] + [
        ("k1e2", "2022-01"), ("k1e2", "2023-01")]  # fmt: skip
    assert affected("ltb_stock", "2022-03") == [("k3", "2022-03"), ("k3", "2023-03")]
    assert affected("llu_eur", "2022-12") == [("k1", "2022-12"), ("k1", "2023-12")]
    assert affected("k2e3", "2022-01") == []


def test_k1e2_compares_the_elb_stock_with_the_same_month_a_year_earlier() -> None:
    elb = {("elb_stock", "2023-05"): Decimal(4386), ("elb_stock", "2022-05"): Decimal(4300)}

    assert compute("k1e2", "2023-05", elb) == (Decimal("2.00"), 4386, 4300)  # 4386/4300 = 1.02
    assert compute("k1e2", "2023-06", elb) is None


def test_inputs_name_every_base_month_a_key_figure_came_from() -> None:
    k2 = inputs("k2", "2022-12")

    assert k2[:12] == [("integrations", m) for m in months("2022-01", 12)]
    assert k2[12:] == [("elb_stock", m) for m in months("2021-12", 12)]
    assert inputs("k3", "2022-03") == [("ltb_stock", "2022-03"), ("ltb_stock", "2021-03")]
    assert inputs("k1", "2022-06") == [("llu_eur", "2022-06"), ("llu_eur", "2021-06")]


def test_an_aggregate_is_computed_from_the_sums_of_its_members() -> None:
    # K2 of two jobcenters: 120 / 1000 (12 %) and 30 / 500 (6 %): 150 / 1500 = 10 %, not the
    # mean of the two quotas (9 %).
    assert value_of("k2", Decimal(120 + 30), Decimal(1000 + 500)) == Decimal("10.00")
    # K3: 1900 / 2000 (-5 %) and 1100 / 1000 (+10 %): 3000 / 3000 - 1 = 0 %.
    assert value_of("k3", Decimal(1900 + 1100), Decimal(2000 + 1000)) == Decimal("0.00")
    # K1: 1,000,001 / 999,000 - 1 = 0.1002 %, rounded half up.
    assert value_of("k1", Decimal(1000001), Decimal(999000)) == Decimal("0.10")
    assert value_of("k2", Decimal(5), Decimal(0)) is None


def test_rounding_is_half_up() -> None:
    # 1.00125 x 100 = 100.125 -> 100.13 (K2); (1.00125 - 1) x 100 = 0.125 -> 0.13 (a change).
    assert value_of("k2", Decimal("1.00125"), Decimal(1)) == Decimal("100.13")
    assert value_of("k3", Decimal("1.00125"), Decimal(1)) == Decimal("0.13")


def test_the_live_projection_reads_every_input_month() -> None:
    # The projection reads each group's series from INPUT_SPAN months before the earliest period
    # it recomputes: no input may lie earlier.
    for code in CODES:
        earliest = min(period for _, period in inputs(code, "2023-01"))
        assert earliest >= shift("2023-01", -INPUT_SPAN)
    assert min(p for _, p in inputs("k2", "2023-01")) == shift("2023-01", -INPUT_SPAN)
