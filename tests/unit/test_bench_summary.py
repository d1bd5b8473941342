"""`make bench`'s closing summary: every figure of issue 21's table, in its order, with its goal."""

from tests.benchmarks.harness import GOALS, Report


def test_the_summary_lists_every_goal_in_order_and_says_what_was_not_measured() -> None:
    report = Report()
    report.add("e2e: publish rate", "—", "9,000 msg/s")
    report.add_goal("health", "api: GET /health", "3,100 req/s", True, rps=3100.0)
    report.add_goal("e2e", "e2e: end to end", "4,000 msg/s", False, rate=4000.0)

    rows = report.summary()

    assert [row["figure"] for row in rows] == [goal.figure for goal in GOALS.values()]
    by_figure = {row["figure"]: row for row in rows}
    assert by_figure["GET /health"] == {
        "figure": "GET /health", "measured": "3,100 req/s", "goal": "≥ 3,000 req/s", "met": True,
    }  # fmt: skip
    assert by_figure[GOALS["e2e"].figure]["met"] is False
    assert by_figure[GOALS["e2e"].figure]["goal"] == "≥ 5,000 msg/s"
    asof = by_figure[GOALS["asof"].figure]
    assert asof["met"] is None
    assert asof["measured"] == "not measured (--only asof)"
