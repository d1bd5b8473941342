"""Decoding raw bodies: whatever the bytes, `decode` answers an accepted envelope or a rejection
with its own code, never an exception (which would fail the whole batch); `split_request` finds
the exact bytes of each envelope of a `POST /ingest` array."""

import json
from decimal import Decimal

import pytest

from events.envelope import InvalidEvent, RejectionCode, parse_json
from services.api.routes.ingest import MAX_INGEST_BATCH, split_request
from services.pipeline.channels import Delivery
from services.pipeline.ingest import Accepted, Rejection, decode
from tests.factories import HOSTILE_KINDS, figure_envelope, hostile_body

FIGURE = json.dumps(figure_envelope("06437", "2022-07"))


def with_value(fragment: str) -> bytes:
    """The example figure with its value replaced by the raw JSON `fragment`."""
    return FIGURE.replace('"value": 64', f'"value": {fragment}').encode()


def decoded(body: bytes) -> Accepted | Rejection:
    return decode(Delivery(body, "1-0"))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (with_value("1" * 4301), "number_precision"),  # Python's int() refuses these
        (with_value("-" + "9" * 60_000), "number_precision"),
        (with_value("12345678901234567890123"), "number_precision"),
        (with_value("1.00000000000000000001"), "number_precision"),
        (with_value("1e999999999"), "number_precision"),
        (with_value("0.1234567"), "number_precision"),
        (with_value("NaN"), "not_json"),
        (with_value("-Infinity"), "not_json"),
        (b"[" * 1000 + b"]" * 1000, "not_json"),
        (b'{"a": ' * 10_000, "not_json"),
        (b'"\\ud800"', "invalid_envelope"),
        (b"42", "invalid_envelope"),
        (b"null", "invalid_envelope"),
        (b"", "not_json"),
        (b"\x00", "not_json"),
        (FIGURE.replace('"value": 64', '"value": 64, "value": 65').encode(), "invalid_envelope"),
        (FIGURE.replace('"06437"', '"064\x0037"').encode(), "not_json"),
        (b"\xed\xa0\x80", "not_utf8"),  # an encoded lone surrogate is not UTF-8
        (FIGURE.encode("utf-16"), "not_utf8"),
    ],
)
def test_every_unreadable_body_is_a_rejection_of_its_own(body: bytes, code: str) -> None:
    result = decoded(body)

    assert isinstance(result, Rejection), result
    assert (result.code, len(result.reason) < 400) == (code, True), result.reason


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_every_hostile_kind_is_rejected_while_decoding(kind: str) -> None:
    body = hostile_body(figure_envelope("06437", "2022-07"), kind)

    result = decoded(body)

    assert isinstance(result, Rejection), result


@pytest.mark.parametrize(
    ("fragment", "value"),
    [("999999999999999", Decimal(999999999999999)), ("0.1", Decimal("0.1")),
     ("2.50", Decimal("2.5")), ("1E+3", Decimal(1000)), ("-0", Decimal(0))],
)  # fmt: skip
def test_numbers_within_the_precision_are_read_exactly(fragment: str, value: Decimal) -> None:
    result = decoded(with_value(fragment))

    assert isinstance(result, Accepted), result
    assert result.event.model_dump()["value"] == value


def test_parse_json_reads_fractions_as_exact_decimals() -> None:
    assert parse_json(b'{"a": 0.1, "b": 7, "c": [1e2]}') == {
        "a": Decimal("0.1"), "b": 7, "c": [Decimal(100)],
    }  # fmt: skip
    with pytest.raises(InvalidEvent) as caught:
        parse_json(b'{"a": 1, "b": {"c": 1, "c": 2}}')
    assert caught.value.code == RejectionCode.INVALID_ENVELOPE
    assert "'c' occurs twice" in caught.value.reason


def test_split_request_keeps_each_element_s_exact_bytes() -> None:
    first = b'{"value": 1.00000000000000000001, "id": "\\u00fc"}'
    second = b'{"n": ' + b"7" * 5000 + b"}"
    body = b" [ " + first + b" ,\r\n" + second + b", []]\n"

    assert split_request(body) == [first, second, b"[]"]


@pytest.mark.parametrize(
    "body",
    [b"{}", b"[1, 2", b"[1, 2] x", b"[" * 5000 + b"]" * 5000, b"\xff[", b"[1 2]", b"7"],
)
def test_split_request_leaves_what_is_no_readable_array_whole(body: bytes) -> None:
    assert split_request(body) == [body]


def test_split_request_counts_the_elements() -> None:
    assert split_request(b"[]") == []
    assert split_request(b"[" + b"1," * MAX_INGEST_BATCH + b"1]") is None
    assert len(split_request(b"[" + b"1," * (MAX_INGEST_BATCH - 1) + b"1]") or []) == 1000
