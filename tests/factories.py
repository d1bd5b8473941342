"""Test data: events with unique streams and message ids, so tests never collide."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from events.catalogue import CATALOGUE, AgreementEvent, Catalogue
from events.envelope import Id, IsoDate, Text
from events.log import NewEvent


def unique(prefix: str) -> str:
    """`prefix` plus a short random suffix."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def figure_event(
    stream_id: str | None = None,
    *,
    source: str = "ba-statistik",
    principal: str = "token:test-source",
    channel: str = "http",
    **data: Any,
) -> NewEvent:
    """A MonthlyFigureReported event with plausible data, overridable per field."""
    payload = {
        "jobcenter_id": "06437",
        "indicator": "integrations",
        "period": "2022-07",
        "breakdown": "total",
        "value": 64,
        "status": "preliminary",
    } | data
    return NewEvent(
        stream_id=stream_id or unique("figures"),
        type="MonthlyFigureReported",
        source=source,
        message_id=unique("msg"),
        occurred_at=datetime(2022, 10, 27, 8, tzinfo=UTC),
        principal=principal,
        channel=channel,
        data=payload,
    )


def envelope(type: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An upstream envelope with a unique message id."""
    return {
        "message_id": unique("msg"),
        "source": "test-upstream",
        "type": type,
        "schema_version": 1,
        "occurred_at": "2022-10-27T08:00:00Z",
        "data": data,
    } | fields


def agreement_setup(jobcenter_id: str, agreement_id: str, year: int = 2022) -> list[dict[str, Any]]:
    """Envelopes registering a jobcenter and concluding an agreement with one target."""
    return [
        envelope("JobcenterRegistered", {"jobcenter_id": jobcenter_id, "name": "Odenwaldkreis",
                                         "land": "DE-HE", "kind": "zkT"}),
        envelope("AgreementConcluded", {"agreement_id": agreement_id, "jobcenter_id": jobcenter_id,
                                        "year": year, "parties": ["Kreis", "HMSI"]}),
        envelope("TargetSet", {"agreement_id": agreement_id, "target_id": "integrations-total",
                               "indicator": "integrations", "breakdown": "total",
                               "comparator": "at_least", "value": 770, "unit": "count",
                               "aggregation": "sum"}),
        envelope("BudgetAllocated", {"agreement_id": agreement_id, "budget_line": "training",
                                     "amount_eur": 1289900}),
    ]  # fmt: skip


def figure_envelope(jobcenter_id: str, period: str = "2022-07", **data: Any) -> dict[str, Any]:
    """A MonthlyFigureReported envelope for `jobcenter_id`."""
    return envelope(
        "MonthlyFigureReported",
        {"jobcenter_id": jobcenter_id, "indicator": "integrations", "period": period,
         "breakdown": "total", "value": 64, "status": "preliminary"} | data,
    )  # fmt: skip


def odenwald_2021(jobcenter_id: str, agreement_id: str) -> list[dict[str, Any]]:
    """The DOMAIN.md worked example: Odenwaldkreis 2021, with 12 months of figures giving
    718 integrations (target at least 690) and 2,035 long-term recipients on average (at most
    2,030), the agreement closed afterwards."""
    integrations = [55, 52, 63, 60, 58, 61, 64, 57, 62, 66, 60, 60]  # 718
    stocks = [2050, 2048, 2045, 2040, 2038, 2036, 2034, 2030, 2028, 2025, 2024, 2022]  # 2035
    targets = [("integrations-total", "integrations", "at_least", 690, "sum"),
               ("ltb-average", "ltb_stock", "at_most", 2030, "mean")]  # fmt: skip
    return [
        envelope("JobcenterRegistered", {"jobcenter_id": jobcenter_id, "name": "Odenwaldkreis",
                                         "land": "DE-HE", "kind": "zkT"}),
        envelope("AgreementConcluded", {"agreement_id": agreement_id, "jobcenter_id": jobcenter_id,
                                        "year": 2021, "parties": ["Kreis", "HMSI"]}),
        *[envelope("TargetSet", {"agreement_id": agreement_id, "target_id": target_id,
                                 "indicator": indicator, "breakdown": "total",
                                 "comparator": comparator, "value": value, "unit": "count",
                                 "aggregation": aggregation})
          for target_id, indicator, comparator, value, aggregation in targets],
        *[figure_envelope(jobcenter_id, f"2021-{month:02d}", value=value, status="final")
          for month, value in enumerate(integrations, start=1)],
        *[figure_envelope(jobcenter_id, f"2021-{month:02d}", value=value, status="final",
                          indicator="ltb_stock")
          for month, value in enumerate(stocks, start=1)],
        envelope("AgreementClosed", {"agreement_id": agreement_id, "closed_on": "2022-03-31"}),
    ]  # fmt: skip


class DialogHeldV2(AgreementEvent):
    """DialogHeld v2: names its participants."""

    event_type: ClassVar[str] = "DialogHeld"
    schema_version: ClassVar[int] = 2
    held_on: IsoDate
    summary: Text
    participants: tuple[Id, ...]


def add_participants(v1: dict[str, Any]) -> dict[str, Any]:
    """Upcast DialogHeld v1 -> v2: nobody was recorded as present."""
    return {**v1, "participants": []}


def catalogue_with_dialog_v2() -> Catalogue:
    """A copy of the default catalogue that knows DialogHeld v2."""
    catalogue = CATALOGUE.copy()
    catalogue.register(DialogHeldV2)
    catalogue.register_upcaster("DialogHeld", 1, add_participants)
    return catalogue


HOSTILE_KINDS = (
    "nul in message_id", "surrogate in message_id", "nul in a key name", "nested thousands deep",
    "occurred_at overflowing", "occurred_at as a bare number text", "not UTF-8", "oversize",
    "unknown type", "negative value", "integer of 5,000 digits", "23-digit integer",
    "over-precise fraction", "thousandths of a euro", "field name twice", "NaN", "raw NUL",
    "nested a thousand deep", "surrogate in data", "not an object",
)  # fmt: skip
"""The kinds of bad input `hostile_body` makes: each is settled as a rejection."""


def hostile_body(good: dict[str, Any], kind: str) -> bytes:
    """A hostile variant of the valid envelope `good` (of `HOSTILE_KINDS`), as raw bytes; its
    message id (where it has one) is `good`'s with a suffix, so it never duplicates `good`."""
    bad = good | {"message_id": f"{good['message_id']}-hostile"}
    text = json.dumps(bad)
    match kind:
        case "nul in message_id":
            return text.replace('-hostile"', '-\\u0000"', 1).encode()
        case "surrogate in message_id":
            return text.replace('-hostile"', '-\\ud800"', 1).encode()
        case "nul in a key name":
            return text.replace('"source"', '"sou\\u0000rce"', 1).encode()
        case "nested thousands deep":
            return b'{"message_id": "deep", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        case "occurred_at overflowing":
            return json.dumps(bad | {"occurred_at": "9999-12-31T23:59:59-23:59"}).encode()
        case "occurred_at as a bare number text":
            return json.dumps(bad | {"occurred_at": "1"}).encode()
        case "not UTF-8":
            return text.encode()[:40] + b"\xff\xfe\xc0 not UTF-8"
        case "oversize":
            return json.dumps(bad | {"padding": "x" * 100_000}).encode()
        case "unknown type":
            return json.dumps(bad | {"type": "SomethingElseHappened"}).encode()
        case "negative value":
            return json.dumps(bad | {"data": bad["data"] | {"value": -7}}).encode()
        case "integer of 5,000 digits" | "23-digit integer" | "over-precise fraction" | "NaN":
            number = {
                "integer of 5,000 digits": "7" * 5000,
                "23-digit integer": "1" * 23,
                "over-precise fraction": "1.00000000000000000001",
                "NaN": "NaN",
            }[kind]
            return json.dumps(bad | {"data": bad["data"] | {"value": 0.5}}).replace(
                "0.5", number, 1).encode()  # fmt: skip
        case "thousandths of a euro":
            allocated = {"agreement_id": "a", "budget_line": "eingliederung", "amount_eur": 0.5}
            return json.dumps(bad | {"type": "BudgetAllocated", "data": allocated}).replace(
                "0.5", "1000.005", 1).encode()  # fmt: skip
        case "field name twice":
            return text.replace('"source": ', '"source": "other", "source": ', 1).encode()
        case "raw NUL":
            return text.replace('-hostile"', '-\x00"', 1).encode()
        case "nested a thousand deep":
            return json.dumps(bad | {"data": 0.5}).replace("0.5", "[" * 1000 + "]" * 1000).encode()
        case "surrogate in data":
            return text.replace('"status": "', '"status": "\\udfff', 1).encode()
        case "not an object":  # the envelope encoded twice: a JSON string
            return json.dumps(text).encode()
    raise ValueError(f"unknown hostile kind {kind!r}")
