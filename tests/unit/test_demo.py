"""The demo data: valid envelopes, in a publishable order, matching the seed's 2021 results."""

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from events.catalogue import (
    AgreementClosed,
    ComparisonTypeAssigned,
    DomainEvent,
    FigureEvent,
    FrameworkAgreementConcluded,
    FrameworkJoined,
    MonthlyFigureCorrected,
    MonthlyFigureReported,
    TargetSet,
    parse_envelope,
)
from events.rules import KnownEntities
from events.store import RecordedEvent
from projections.attainment.calculation import attainment
from services.cli.demo import demo_envelopes

Key = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, Any]]:
    return demo_envelopes()


@pytest.fixture(scope="module")
def events(envelopes: list[dict[str, Any]]) -> list[DomainEvent]:
    return [parse_envelope(envelope)[1] for envelope in envelopes]


def latest_figures(events: list[DomainEvent]) -> dict[Key, FigureEvent]:
    """(jobcenter, indicator, breakdown, period) -> the latest vintage."""
    return {
        (e.jobcenter_id, e.indicator, e.breakdown, e.period): e
        for e in events
        if isinstance(e, FigureEvent)
    }


def year_values(latest: dict[Key, FigureEvent], indicator: str, year: int) -> list[Decimal]:
    return [
        latest[("06437", indicator, "total", f"{year}-{month:02d}")].value for month in range(1, 13)
    ]


def test_every_envelope_parses(envelopes: list[dict[str, Any]]) -> None:
    for envelope in envelopes:
        parse_envelope(envelope)


def test_demo_is_deterministic(envelopes: list[dict[str, Any]]) -> None:
    assert demo_envelopes() == envelopes


def test_message_ids_are_unique(envelopes: list[dict[str, Any]]) -> None:
    counts = Counter(envelope["message_id"] for envelope in envelopes)

    assert [message_id for message_id, n in counts.items() if n > 1] == []


def test_2021_results_match_the_seed(events: list[DomainEvent]) -> None:
    latest = latest_figures(events)

    assert sum(year_values(latest, "integrations", 2021)) == 718
    assert sum(year_values(latest, "ltb_stock", 2021)) / 12 == 2035


def test_preliminary_values_differ_from_the_final_result(events: list[DomainEvent]) -> None:
    first = latest_figures([e for e in events if isinstance(e, MonthlyFigureReported)])

    assert sum(year_values(first, "integrations", 2021)) != 718
    assert sum(year_values(first, "ltb_stock", 2021)) / 12 != 2035


def test_women_and_men_add_up_to_the_total(events: list[DomainEvent]) -> None:
    latest = latest_figures(events)
    split = [key for key in latest if key[2] == "women"]

    assert len(split) > 50
    for jobcenter_id, indicator, _, period in split:
        women = latest[(jobcenter_id, indicator, "women", period)].value
        men = latest[(jobcenter_id, indicator, "men", period)].value
        assert women + men == latest[(jobcenter_id, indicator, "total", period)].value


def test_corrections_exist_and_follow_their_first_report(events: list[DomainEvent]) -> None:
    seen: set[Key] = set()
    corrections = 0
    for event in events:
        if not isinstance(event, FigureEvent):
            continue
        key = (event.jobcenter_id, event.indicator, event.breakdown, event.period)
        if isinstance(event, MonthlyFigureCorrected):
            corrections += 1
            assert key in seen and event.reason
        seen.add(key)

    assert corrections >= 1


def test_order_respects_every_dependency(
    envelopes: list[dict[str, Any]], events: list[DomainEvent]
) -> None:
    entities = KnownEntities()
    for event in events:
        entities.check(event, today=date(2022, 12, 31))
        entities.apply(event)
    times = [parse_envelope(envelope)[0].occurred_at for envelope in envelopes]

    assert times == sorted(times)


def test_no_figure_is_published_before_its_month_ends(envelopes: list[dict[str, Any]]) -> None:
    for envelope in envelopes:
        parsed, event = parse_envelope(envelope)
        if isinstance(event, FigureEvent):
            assert event.year_month < (parsed.occurred_at.year, parsed.occurred_at.month)


def test_agreements_have_the_seed_targets(events: list[DomainEvent]) -> None:
    targets = {
        (e.agreement_id, e.target_id): (e.comparator, int(e.value))
        for e in events
        if isinstance(e, TargetSet)
    }

    assert targets[("odw-2021", "integrations-total")] == ("at_least", 690)
    assert targets[("odw-2021", "ltb-total")] == ("at_most", 2030)
    assert targets[("odw-2022", "integrations-women")] == ("at_least", 308)
    assert targets[("odw-2022", "ltb-men")] == ("at_most", 920)
    assert targets[("odw-2022", "continuous-employment-total")] == ("at_least", 58)
    assert len([key for key in targets if key[0] == "odw-2022"]) == 8
    assert any(isinstance(e, AgreementClosed) and e.agreement_id == "odw-2021" for e in events)


def test_every_demo_jobcenter_has_a_type_in_each_year_of_figures(
    envelopes: list[dict[str, Any]], events: list[DomainEvent]
) -> None:
    assigned = {(e.jobcenter_id, e.year): e.type_code
                for e in events if isinstance(e, ComparisonTypeAssigned)}  # fmt: skip
    sources = {e["source"] for e in envelopes if e["type"] == "ComparisonTypeAssigned"}

    assert assigned == {(jc, year): code for jc, code in
                        (("06437", "Ib"), ("06435", "Ib"), ("05162", "IIa"))
                        for year in (2020, 2021, 2022)}  # fmt: skip
    assert sources == {"ba-statistik"}


def test_the_rhein_kreis_neuss_joins_nrw_inklusiv_by_the_deadline(
    events: list[DomainEvent],
) -> None:
    [framework] = [e for e in events if isinstance(e, FrameworkAgreementConcluded)]
    [joined] = [e for e in events if isinstance(e, FrameworkJoined)]

    assert (framework.land, framework.join_deadline) == ("DE-NW", date(2018, 5, 14))
    assert len(framework.parties) == 4
    assert (joined.jobcenter_id, joined.joined_on, joined.approved_on) == (
        "05162", date(2018, 5, 14), date(2018, 5, 7)
    )  # fmt: skip
    assert joined.approved_by == ("Rhein-Kreis Neuss", "Agentur für Arbeit Mönchengladbach")
    assert len(joined.measures) == 3


def test_the_2022_agreement_shows_its_plan_bases(envelopes: list[dict[str, Any]]) -> None:
    recorded = [
        RecordedEvent(
            **envelope,
            stream_id=event.stream_id,
            position=position,
            stream_version=position,
            recorded_at=datetime(2022, 10, 1, tzinfo=UTC),
            prev_hash="0" * 64,
            hash="0" * 64,
        )
        for position, envelope in enumerate(envelopes, start=1)
        for event in [parse_envelope(envelope)[1]]
    ]
    result = attainment("odw-2022", recorded)

    assert result is not None
    bases = {t.target_id: t.plan_basis for t in result.targets}
    assert bases["integrations-total"] == "prior_year_profile"  # 2021 has all twelve months
    assert bases["u25-training-integrations-total"] == "agreed_plan"
    assert bases["ltb-total"] is None  # a level
    u25 = next(t for t in result.targets if t.target_id == "u25-training-integrations-total")
    assert u25.plan_path == [Decimal(v) for v in (2, 4, 7, 9, 13, 18, 26, 46, 62, 66, 68, 70)]


def test_the_land_agreement_of_hessen_sums_its_one_member(envelopes: list[dict[str, Any]]) -> None:
    recorded = [
        RecordedEvent(
            **envelope, stream_id=event.stream_id, position=position, stream_version=position,
            recorded_at=datetime(2022, 10, 1, tzinfo=UTC), prev_hash="0" * 64, hash="0" * 64,
        )
        for position, envelope in enumerate(envelopes, start=1)
        for event in [parse_envelope(envelope)[1]]
    ]  # fmt: skip
    land, odenwald = attainment("he-zkt-2022", recorded), attainment("odw-2022", recorded)

    assert land is not None and odenwald is not None
    assert (land.level, land.land, land.jobcenter_id) == ("land", "DE-HE", None)
    own = {t.target_id: t for t in odenwald.targets}
    for target in land.targets:  # the sum of one member is its own series
        assert (target.actual, target.months_reported, target.attainment_pct) == (
            own[target.target_id].actual, own[target.target_id].months_reported,
            own[target.target_id].attainment_pct,
        )  # fmt: skip
    assert [t.target_id for t in land.targets] == ["integrations-total", "ltb-total"]
    assert all(t.months_reported > 0 for t in land.targets)
