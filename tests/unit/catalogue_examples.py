"""One valid example of every v1 event type, and the envelopes and rejections the catalogue tests
build from them."""

import json
from typing import Any

import pytest

from events.catalogue import CATALOGUE
from events.envelope import InvalidEvent

EXAMPLES: dict[str, dict[str, Any]] = {
    "JobcenterRegistered": {
        "jobcenter_id": "06437",
        "name": "Kommunales Job-Center Odenwaldkreis",
        "land": "DE-HE",
        "kind": "zkT",
        "district_key": "06437",
    },
    "ComparisonTypeAssigned": {
        "jobcenter_id": "06437",
        "year": 2024,
        "type_code": "IIb",
        "type_name": "Ländliche Gebiete mit durchschnittlicher Arbeitslosigkeit",
        "typology": "SGB-II-Typisierung des IAB",
        "typology_version": "2024",
    },
    "AgreementConcluded": {
        "agreement_id": "odw-2022",
        "jobcenter_id": "06437",
        "year": 2022,
        "parties": ["Kreisausschuss des Odenwaldkreises", "HMSI Hessen"],
        "signed_on": "2022-04-12",
        "title": "Zielvereinbarung 2022",
        "level": "jobcenter",
    },
    "AgreementMembersSet": {
        "agreement_id": "he-zkt-2022",
        "jobcenter_ids": ["06437", "06435"],
        "reason": "Zielvereinbarung mit den zugelassenen kommunalen Trägern",
    },
    "TargetSet": {
        "agreement_id": "odw-2022",
        "target_id": "integrations-total",
        "indicator": "integrations",
        "breakdown": "total",
        "comparator": "at_least",
        "value": 770,
        "unit": "count",
        "aggregation": "sum",
        "label": "Integrationen in Erwerbstätigkeit",
    },
    "TargetAmended": {
        "agreement_id": "odw-2022",
        "target_id": "ltb-stock-total",
        "value": 2020,
        "effective_from": "2022-07-01",
        "reason": "Zielnachhaltedialog Juli",
    },
    "TargetPlanSet": {
        "agreement_id": "odw-2022",
        "target_id": "integrations-total",
        "plan": [40, 90, 150, 215, 285, 355, 420, 485, 555, 630, 700, 770],
        "reason": "Planwerte aus dem Zielnachhaltedialog",
    },
    "TargetWithdrawn": {
        "agreement_id": "odw-2022",
        "target_id": "llu-eur-total",
        "reason": "nur Beobachtung",
    },
    "QualitativeGoalSet": {
        "agreement_id": "odw-2022",
        "goal_id": "u25-training",
        "section": "Junge Menschen",
        "text": "Mindestens 70 Integrationen von unter 25-Jährigen in Ausbildung",
        "state_support": ["Landesprogramm Ausbildungsplatzförderung"],
    },
    "BudgetAllocated": {
        "agreement_id": "mkk-2018",
        "budget_line": "training-qualification",
        "amount_eur": "1289900.00",
        "measures": ["Qualifizierung", "Weiterbildung"],
    },
    "BudgetDeviationRecorded": {
        "agreement_id": "mkk-2018",
        "budget_line": "labour-market",
        "period": "2018-06",
        "amount_eur": -20440.5,
        "reason": "Mittelumschichtung",
    },
    "DialogHeld": {
        "agreement_id": "odw-2022",
        "held_on": "2022-09-20",
        "summary": "Integrationen über Plan, Langzeitbezug knapp über Ziel",
    },
    "AgreementClosed": {"agreement_id": "odw-2021", "closed_on": "2022-03-31"},
    "MonthlyFigureReported": {
        "jobcenter_id": "06437",
        "indicator": "integrations",
        "period": "2022-07",
        "breakdown": "total",
        "value": 64,
        "status": "final",
    },
    "MonthlyFigureCorrected": {
        "jobcenter_id": "06437",
        "indicator": "k3e2",
        "period": "2023-07",
        "breakdown": "women",
        "value": 31.25,
        "numerator": 350,
        "denominator": 1120,
        "status": "final",
        "reason": "BA-Korrektur Februar 2024",
    },
    "FrameworkAgreementConcluded": {
        "framework_id": "nrw-inklusiv",
        "land": "DE-NW",
        "title": "Rahmenvereinbarung NRW inklusiv",
        "parties": ["MAGS NRW", "Regionaldirektion NRW der BA", "Städtetag NRW", "LKT NRW"],
        "signed_on": "2018-02-28",
        "join_deadline": "2018-05-14",
        "goals": ["Arbeitsmarktchancen beeinträchtigter Menschen verbessern"],
    },
    "FrameworkJoined": {
        "framework_id": "nrw-inklusiv",
        "jobcenter_id": "05162",
        "joined_on": "2018-05-14",
        "approved_by": ["Rhein-Kreis Neuss", "Agentur für Arbeit Mönchengladbach"],
        "approved_on": "2018-05-07",
        "measures": ["Inklusionskompetenz prüfen"],
    },
    "FrameworkMeasureReported": {
        "framework_id": "nrw-inklusiv",
        "jobcenter_id": "05162",
        "measure": "Inklusionskompetenz prüfen",
        "text": "Aufstellung geprüft",
        "period": "2018-09",
    },
}
STREAMS = {
    "JobcenterRegistered": "jobcenter-06437",
    "ComparisonTypeAssigned": "jobcenter-06437",
    "AgreementConcluded": "agreement-odw-2022",
    "AgreementMembersSet": "agreement-he-zkt-2022",
    "TargetSet": "agreement-odw-2022",
    "TargetAmended": "agreement-odw-2022",
    "TargetWithdrawn": "agreement-odw-2022",
    "TargetPlanSet": "agreement-odw-2022",
    "QualitativeGoalSet": "agreement-odw-2022",
    "BudgetAllocated": "agreement-mkk-2018",
    "BudgetDeviationRecorded": "agreement-mkk-2018",
    "DialogHeld": "agreement-odw-2022",
    "AgreementClosed": "agreement-odw-2021",
    "MonthlyFigureReported": "figures-06437",
    "MonthlyFigureCorrected": "figures-06437",
    "FrameworkAgreementConcluded": "framework-nrw-inklusiv",
    "FrameworkJoined": "framework-nrw-inklusiv",
    "FrameworkMeasureReported": "framework-nrw-inklusiv",
}


def data(event_type: str, **changes: Any) -> dict[str, Any]:
    """A fresh example of `event_type` data with `changes`; a change to None drops the field."""
    merged = {**json.loads(json.dumps(EXAMPLES[event_type])), **changes}
    return {key: value for key, value in merged.items() if value is not None}


def envelope(**changes: Any) -> dict[str, Any]:
    """A valid envelope carrying a monthly figure, with `changes`."""
    raw = {
        "message_id": "ba-stat-2022-07-06437-integrations-total",
        "source": "ba-statistik",
        "type": "MonthlyFigureReported",
        "schema_version": 1,
        "occurred_at": "2022-10-27T10:00:00+02:00",
        "correlation_id": "ba-release-2022-10",
        "data": data("MonthlyFigureReported"),
    }
    return {**raw, **changes}


def rejection(event_type: str, schema_version: int = 1, **changes: Any) -> InvalidEvent:
    """The rejection raised when decoding the example of `event_type` with `changes`."""
    with pytest.raises(InvalidEvent) as caught:
        CATALOGUE.decode(event_type, schema_version, data(event_type, **changes))
    return caught.value
