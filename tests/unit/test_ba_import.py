"""What a publication sends (`zs import`, docs/import.md): a report for a figure no earlier
publication has, a correction for one whose vintage in force differs, nothing for an equal one;
stable message ids; the waiting period's status; envelopes the catalogue accepts."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from events.catalogue import parse_envelope
from services.cli.ba_import import late_months, message_id, plan, status
from services.cli.ba_table import read_table

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
FEBRUARY, MARCH = date(2024, 2, 26), date(2024, 3, 25)


@pytest.mark.parametrize(
    ("period", "publication", "expected"),
    [
        ("2022-07", date(2022, 10, 31), "preliminary"), ("2022-07", date(2022, 11, 1), "final"),
        ("2023-10", date(2024, 1, 31), "preliminary"), ("2023-10", FEBRUARY, "final"),
        ("2023-12", date(2024, 4, 1), "final"), ("2023-09", date(2023, 12, 31), "preliminary"),
    ],
)  # fmt: skip
def test_the_status_follows_the_three_month_waiting_period(
    period: str, publication: date, expected: str
) -> None:
    assert status(period, publication) == expected


def test_a_first_publication_reports_every_figure_with_stable_ids() -> None:
    table = read_table(SAMPLES / "ba-kennzahlen-2024-02.csv")

    first = plan(table, {}, {}, FEBRUARY)
    again = plan(table, {}, {}, FEBRUARY)

    assert (first.reported, first.corrected, first.unchanged, first.types) == (13, 0, 0, 2)
    assert first.envelopes == again.envelopes
    figures = [e for e in first.envelopes if e["type"] != "ComparisonTypeAssigned"]
    ids = [e["message_id"] for e in figures]
    assert len(set(ids)) == 13
    assert ids[0] == "ba-2024-02-26-06437-k2-total-2023-10"
    assert ids[0] == message_id(FEBRUARY, ("06437", "k2", "total", "2023-10"))
    for sent in figures:
        envelope, _ = parse_envelope(sent)  # the catalogue accepts every one
        assert (envelope.source, envelope.type) == ("ba-statistik", "MonthlyFigureReported")
        assert sent["occurred_at"] == "2024-02-26T00:00:00Z"
        assert sent["data"]["status"] == "final"
    assert figures[0]["data"] == {
        "jobcenter_id": "06437", "indicator": "k2", "breakdown": "total", "period": "2023-10",
        "value": 24.3, "numerator": 772, "denominator": 3176.9, "status": "final",
    }  # fmt: skip


def test_a_later_publication_corrects_what_changed_and_leaves_the_rest() -> None:
    march = read_table(SAMPLES / "ba-kennzahlen-2024-03.csv")
    earlier = {
        ("06437", "k2", "total", "2023-10"): (Decimal("24.30"), Decimal(772), Decimal("3176.9")),
        ("06437", "k3e2", "total", "2023-10"): (Decimal("21.4"), Decimal(425), Decimal(1987)),
        ("06437", "ltb_stock", "total", "2023-10"): (Decimal(1987), None, None),
    }

    planned = plan(march, earlier, {}, MARCH)

    assert (planned.reported, planned.corrected, planned.unchanged) == (4, 1, 2)
    corrected = [e for e in planned.envelopes if e["type"] == "MonthlyFigureCorrected"]
    assert [e["message_id"] for e in corrected] == ["ba-2024-03-25-06437-k3e2-total-2023-10"]
    assert corrected[0]["data"]["value"] == 19.7
    assert corrected[0]["data"]["reason"] == (
        "Korrektur in der Veröffentlichung der BA-Statistik vom 25.03.2024"
    )
    parse_envelope(corrected[0])
    reported = [e for e in planned.envelopes if e["type"] == "MonthlyFigureReported"]
    assert {e["data"]["period"] for e in reported} == {"2023-11"}
    assert {e["data"]["status"] for e in [*reported, *corrected]} == {"final"}  # Nov.: from 1 March


def test_a_changed_fraction_alone_is_a_correction() -> None:
    march = read_table(SAMPLES / "ba-kennzahlen-2024-03.csv")
    key = ("06437", "k2", "total", "2023-10")

    planned = plan(march, {key: (Decimal("24.3"), Decimal(771), Decimal("3176.9"))}, {}, MARCH)

    assert planned.corrected == 1


def test_comparison_types_are_sent_unless_an_earlier_publication_said_the_same() -> None:
    table = read_table(SAMPLES / "ba-kennzahlen-2024-02.csv")

    first = plan(table, {}, {}, FEBRUARY)
    earlier = {("06437", 2023): first.envelopes[0]["data"] | {"later_field": None},
               ("06435", 2023): first.envelopes[1]["data"] | {"type_code": "IIa"}}  # fmt: skip
    later = plan(table, {}, earlier, MARCH)

    assert first.types == 2
    assigned = first.envelopes[0]
    assert assigned["type"] == "ComparisonTypeAssigned"
    assert assigned["message_id"] == "ba-2024-02-26-06437-type-2023"
    assert assigned["data"] == {
        "jobcenter_id": "06437", "year": 2023, "type_code": "IIIb",
        "type_name": "Vergleichstyp IIIb", "typology": "SGB-II-Typisierung des IAB",
        "typology_version": "2024",
    }  # fmt: skip
    parse_envelope(assigned)
    assert later.types == 1  # 06435 was in another type before
    assert later.envelopes[0]["data"]["jobcenter_id"] == "06435"


def test_a_month_not_over_at_publication_is_a_fault() -> None:
    table = read_table(SAMPLES / "ba-kennzahlen-2024-03.csv")

    faults = late_months(table.figures, date(2023, 11, 30))

    assert [fault.line for fault in faults] == [8, 9, 10, 11]
    assert (
        faults[0].reason == "Berichtsmonat 2023-11 is not over on the publication date 30.11.2023"
    )
