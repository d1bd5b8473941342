"""The key figures K1, K2, K3 from base series, by hand-computed cases (no IO)."""

from decimal import Decimal

from projections.key_figures import affected, compute, shift


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
    assert affected("elb_stock", "2022-01") == [("k2", m) for m in months("2022-02", 12)]
    assert affected("ltb_stock", "2022-03") == [("k3", "2022-03"), ("k3", "2023-03")]
    assert affected("llu_eur", "2022-12") == [("k1", "2022-12"), ("k1", "2023-12")]
    assert affected("k2e3", "2022-01") == []
