"""A Land or federal agreement measured on its members' summed series (no IO): how months add
up, which months count, and the pure fold a replay uses."""

from decimal import Decimal

from projections.attainment.aggregations import Month
from projections.attainment.calculation import summed
from tests.unit.attainment_log import AGREEMENT, Log

D = Decimal


def test_counts_add_up_and_shares_are_taken_from_the_summed_parts() -> None:
    counts = summed("integrations", [Month(D(10)), Month(D(20)), Month(D(5))])
    shares = summed("continuous_employment", [
        Month(D(60), D(30), D(50)), Month(D(25), D(10), D(40)), Month(D(75), D(45), D(60)),
    ])  # fmt: skip

    assert counts == Month(D(35))
    assert shares is not None and (shares.numerator, shares.denominator) == (85, 150)
    assert round(shares.value, 4) == D("56.6667")  # not the mean of the values, 53.33


def test_a_key_figure_of_levels_is_the_change_of_the_summed_levels() -> None:
    # K3: this month's long-term recipients over the same month's a year earlier.
    k3 = summed("k3", [Month(D(-5), D(950), D(1000)), Month(D(10), D(330), D(300))])

    assert k3 is not None and (k3.numerator, k3.denominator) == (1280, 1300)
    assert round(k3.value, 4) == D("-1.5385")  # (1280 / 1300 - 1) x 100


def test_percentages_without_their_parts_do_not_add_up() -> None:
    assert summed("k3e2", [Month(D(31)), Month(D(40))]) is None
    assert summed("k3e2", [Month(D(31), D(310), D(1000)), Month(D(40))]) is None
    assert summed("some-count", [Month(D(3)), Month(D(4))]) == Month(D(7))
    assert summed("k3e2", [Month(D(31))]) == Month(D(31))  # one member is its own sum


def land_log() -> Log:
    """A Land agreement of 2021 with an integrations target of at least 120."""
    log = Log()
    log.agreement("AgreementConcluded", level="land", land="DE-HE", year=2021,
                  parties=["HMSI Hessen"])  # fmt: skip
    log.target("t", 120)
    return log


def test_the_fold_sums_the_latest_members_and_leaves_out_a_month_one_lacks() -> None:
    log = land_log()
    log.figures([10, 11, 12], jobcenter_id="A")
    log.figures([20, 21], jobcenter_id="B")
    log.figures([99, 99, 99], jobcenter_id="C")
    log.agreement("AgreementMembersSet", jobcenter_ids=["A", "B", "C"])
    log.agreement("AgreementMembersSet", jobcenter_ids=["A", "B"])

    result = log.result()
    answer = log.answer()

    assert (result.actual, result.months_reported) == (62, 2)  # (10+20) + (11+21)
    assert (answer.agreement_id, answer.level, answer.land, answer.jobcenter_id) == (
        AGREEMENT, "land", "DE-HE", None,
    )  # fmt: skip


def test_without_members_a_roll_up_has_no_data() -> None:
    log = land_log()
    log.figures([10, 11, 12], jobcenter_id="A")

    assert (log.result().status, log.result().actual) == ("no_data", None)
