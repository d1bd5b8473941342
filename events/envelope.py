"""The wire format (see the contract): rejection codes, field types of event data, the envelope.

Invariants: every check that refuses a message raises `InvalidEvent` with a `RejectionCode`;
numbers are exact `Decimal`s that serialise to JSON numbers and survive that round trip.
"""

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import ErrorDetails, PydanticCustomError

FIRST_PERIOD = (2005, 1)  # SGB II began in January 2005.


class RejectionCode(StrEnum):
    """Every machine-readable reason a message can be rejected for."""

    INVALID_ENVELOPE = "invalid_envelope"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
    INVALID_DATA = "invalid_data"
    NEGATIVE_VALUE = "negative_value"
    NUMERATOR_ABOVE_DENOMINATOR = "numerator_above_denominator"
    PERIOD_OUT_OF_RANGE = "period_out_of_range"
    PERIOD_IN_FUTURE = "period_in_future"
    UNKNOWN_JOBCENTER = "unknown_jobcenter"
    UNKNOWN_AGREEMENT = "unknown_agreement"
    UNKNOWN_TARGET = "unknown_target"
    AGREEMENT_CLOSED = "agreement_closed"
    AGREEMENT_EXISTS = "agreement_exists"
    TARGET_EXISTS = "target_exists"
    UNKNOWN_BUDGET_LINE = "unknown_budget_line"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_UTF8 = "not_utf8"
    POISON = "poison"
    """Handling it kept failing for reasons of its own (never for an outage)."""
    SOURCE_NOT_ALLOWED = "source_not_allowed"
    """The envelope's `source`, type or jobcenter is not the authenticated sender's to write."""
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    """A known (source, message_id) arrived again with a different payload."""
    UNKNOWN_FRAMEWORK = "unknown_framework"
    """The `framework_id` was never concluded."""
    FRAMEWORK_EXISTS = "framework_exists"
    """A framework agreement with this `framework_id` was concluded already."""
    ALREADY_JOINED = "already_joined"
    """The jobcenter is a member of the framework already."""
    JOIN_DEADLINE_PASSED = "join_deadline_passed"
    """The joining date lies after the framework's join deadline."""
    OUTSIDE_LAND = "outside_land"
    """The jobcenter lies in another Land than the framework agreement."""
    NOT_A_MEMBER = "not_a_member"
    """A measure reported for a framework the jobcenter has not joined."""
    NOT_A_ROLL_UP = "not_a_roll_up"
    """Members set for a jobcenter's agreement (only Land and federal agreements have them)."""
    KEY_FIGURE_AGGREGATION = "key_figure_aggregation"
    """A target on a key figure's code names another aggregation than the key figure's own."""
    PLAN_NOT_CUMULATIVE = "plan_not_cumulative"
    """A target's monthly plan falls from one month to the next or plans nothing by December."""
    NUMBER_PRECISION = "number_precision"
    """A number outside the contract's precision (`MAX_SIGNIFICANT_DIGITS`, `MAX_DECIMALS`,
    `MAX_INTEGER_DIGITS`; money: `MONEY_DECIMALS`)."""


# Pydantic error types raised by our own validators that carry their own rejection code.
_DOMAIN_ERROR_CODES = {
    RejectionCode.NEGATIVE_VALUE,
    RejectionCode.NUMERATOR_ABOVE_DENOMINATOR,
    RejectionCode.PERIOD_OUT_OF_RANGE,
    RejectionCode.KEY_FIGURE_AGGREGATION,
    RejectionCode.PLAN_NOT_CUMULATIVE,
    RejectionCode.NUMBER_PRECISION,
}
_MESSAGES = {"missing": "is required", "extra_forbidden": "is not a known field"}


class InvalidEvent(Exception):
    """A message that must be rejected: `code` for machines, `reason` for people."""

    def __init__(self, code: RejectionCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason

    @classmethod
    def from_validation_error(
        cls, error: ValidationError, prefix: str, default: RejectionCode
    ) -> "InvalidEvent":
        """Turn a pydantic error into a rejection; paths start with `prefix` (e.g. "data")."""
        details = error.errors(include_url=False)
        first = str(details[0]["type"])
        code = RejectionCode(first) if first in _DOMAIN_ERROR_CODES else default
        reason = "; ".join(f"{_path(prefix, d)}: {_message(d)}" for d in details)
        return cls(code, reason)


def _path(prefix: str, detail: ErrorDetails) -> str:
    """The dotted field path of one error, e.g. `data.parties.0`; a `field` in ctx is appended."""
    field = (detail.get("ctx") or {}).get("field")
    parts = [*([prefix] if prefix else []), *detail["loc"], *([field] if field else [])]
    return ".".join(str(part) for part in parts)


def _message(detail: ErrorDetails) -> str:
    """The human message of one pydantic error detail."""
    return _MESSAGES.get(str(detail["type"]), str(detail["msg"]))


def _non_blank(value: str) -> str:
    """Reject a text that is empty or only whitespace."""
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value


STORED = {"stored": True}
"""The validation context of an event read back from the store: the bounds that apply at
ingest only (the numbers' precision) are not checked again, so an event recorded before a
bound existed still decodes (rebuild, replay, catching up)."""


def _stored(info: ValidationInfo) -> bool:
    """Whether the data being validated is a stored event's (`STORED`)."""
    return bool(info.context and info.context.get("stored"))


def _identifier(value: str, info: ValidationInfo) -> str:
    """Reject a blank id, one with surrounding whitespace, and (at ingest) one with a `/`: ids
    are path segments of the query API (`/agreements/{agreement_id}`), where a `/` cannot be
    carried, not even encoded as `%2F`."""
    if not value.strip() or value != value.strip():
        raise PydanticCustomError("identifier", "must be non-blank without surrounding spaces")
    if "/" in value and not _stored(info):
        raise PydanticCustomError("identifier", "must not contain '/' (ids are URL path segments)")
    return value


RFC3339_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def _iso_date_text(value: object) -> object:
    """Reject anything but a `YYYY-MM-DD` text where a date is expected."""
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise PydanticCustomError("iso_date", "must be an ISO 8601 date text (YYYY-MM-DD)")
    return value


def _rfc3339_text(value: object) -> object:
    """Reject anything but an RFC 3339 time with an offset (no Unix timestamps, no naive times)."""
    if not isinstance(value, str) or not RFC3339_TIME.match(value):
        raise PydanticCustomError(
            "rfc3339", "must be an RFC 3339 time with an offset, e.g. 2022-10-27T08:00:00Z"
        )
    return value


def _to_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; reject one outside 2000..2099."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = LATEST_TIME  # only the edges of the calendar overflow: out of range either way
    if not EARLIEST_TIME <= utc < LATEST_TIME:
        raise PydanticCustomError("time_out_of_range", "must lie between 2000 and 2099")
    return utc


def split_period(period: str) -> tuple[int, int]:
    """(year, month) of a `"YYYY-MM"` period."""
    return int(period[:4]), int(period[5:7])


def _check_period(period: str) -> str:
    """Reject a month that does not exist or lies before SGB II began."""
    year, month = split_period(period)
    if not 1 <= month <= 12:
        raise PydanticCustomError("period_month", "{period} is not a month", {"period": period})
    if (year, month) < FIRST_PERIOD:
        raise PydanticCustomError(
            "period_out_of_range", "{period} is before 2005-01", {"period": period}
        )
    return period


MAX_SIGNIFICANT_DIGITS = 15
"""Every decimal of at most 15 significant digits survives a JSON number (a binary double)
exactly, in any consumer's parser; beyond that some do not."""
MAX_INTEGER_DIGITS = 15
"""A number lies below 10^15 in size: far above any count or euro amount of SGB II, and every
integer of that size is exact in a double, a PostgreSQL bigint and numeric alike."""
MAX_DECIMALS = 6
MONEY_DECIMALS = 2


def json_number(value: Decimal) -> int | float:
    """The JSON number for a decimal within the bounds: an int when integral, else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _significant(value: Decimal) -> tuple[int, int]:
    """(significant digits, exponent) of a finite, non-zero decimal with its trailing zeros
    dropped: `1.50` is (2, -1), `1500` is (2, 2)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    kept = len(digits)
    while kept > 1 and digits[kept - 1] == 0:
        kept -= 1
    return kept, exponent + len(digits) - kept


def _within_precision(value: Decimal, info: ValidationInfo) -> Decimal:
    """Reject a number outside the contract's precision (judged on its digits alone, so even
    `1e999999999` costs nothing); a stored event's numbers stand as recorded."""
    if _stored(info):
        return value
    if not value.is_finite():
        raise PydanticCustomError("number_precision", "must be a finite number")
    if not value:
        return value
    count, exponent = _significant(value)
    if (
        count > MAX_SIGNIFICANT_DIGITS
        or -exponent > MAX_DECIMALS
        or count + exponent > MAX_INTEGER_DIGITS
    ):
        raise PydanticCustomError(
            "number_precision",
            "is outside the contract's precision (at most {digits} significant digits and "
            "{decimals} decimals, below 10^{size}): {count} significant digits, exponent "
            "{exponent}",
            {"digits": MAX_SIGNIFICANT_DIGITS, "decimals": MAX_DECIMALS,
             "size": MAX_INTEGER_DIGITS, "count": count, "exponent": exponent},
        )  # fmt: skip
    return value


def _cents(value: Decimal, info: ValidationInfo) -> Decimal:
    """Reject an amount of money with more than two decimals (not a stored event's)."""
    if value and not _stored(info) and -_significant(value)[1] > MONEY_DECIMALS:
        raise PydanticCustomError("number_precision", "has more than 2 decimals (cents)")
    return value


def _non_negative(value: Decimal) -> Decimal:
    """Reject a negative number."""
    if value < 0:
        raise PydanticCustomError("negative_value", "must not be negative")
    return value


Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_identifier)]
Slug = Annotated[str, Field(max_length=128, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
Text = Annotated[str, AfterValidator(_non_blank)]
Texts = tuple[Text, ...]
Period = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$"), AfterValidator(_check_period)]
Year = Annotated[int, Field(strict=True, ge=2005, le=2100)]
IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_to_utc)]
Number = Annotated[
    Decimal, AfterValidator(_within_precision), PlainSerializer(json_number, when_used="json")
]
Count = Annotated[Number, AfterValidator(_non_negative)]
Money = Annotated[Number, AfterValidator(_cents)]
NonNegativeMoney = Annotated[Money, AfterValidator(_non_negative)]


class Envelope(BaseModel):
    """The wrapper of every ingested message; `source` + `message_id` is the idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_non_blank)]
    source: Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_non_blank)]
    type: Annotated[str, Field(min_length=1, max_length=128)]
    schema_version: Annotated[int, Field(ge=1, strict=True)]
    occurred_at: UtcDatetime
    correlation_id: str | None = None
    data: dict[str, Any]

    @property
    def idempotency_key(self) -> tuple[str, str]:
        """The (source, message_id) pair that identifies a message across redeliveries."""
        return (self.source, self.message_id)


MAX_DEPTH = 32
"""How deeply an envelope's JSON may nest (real envelopes nest three or four levels)."""


RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
"""A JSON escape that decodes to NUL or to a surrogate: the only ways such text gets in."""


def may_be_unstorable(body: bytes) -> bool:
    """Whether `body` (valid JSON) can hold unstorable text or nest too deeply: cheap, so the
    full walk of `unstorable` runs only for the rare body that can."""
    return bool(RISKY_ESCAPE.search(body)) or body.count(b"[") + body.count(b"{") > MAX_DEPTH


def unstorable(value: Any) -> tuple[str, str] | None:
    """(path, problem) of the first part of parsed JSON that cannot be stored as it is: text
    holding a NUL character or a lone surrogate (PostgreSQL text and UTF-8 refuse both), or
    nesting deeper than `MAX_DEPTH`; None when everything can be stored."""
    pending: list[tuple[str, Any, int]] = [("", value, 0)]
    while pending:
        path, item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return path or "envelope", f"nests deeper than {MAX_DEPTH} levels"
        if isinstance(item, str) and (problem := _text_problem(item)):
            return path or "envelope", problem
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if problem := _text_problem(key):
                    return _printable(child_path), f"a field name {problem}"
                pending.append((child_path, child, depth + 1))
        elif isinstance(item, list):
            pending.extend(
                (f"{path}.{index}", child, depth + 1) for index, child in enumerate(item)
            )
    return None


def _text_problem(text: str) -> str | None:
    """What makes `text` unstorable, if anything."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def _printable(text: str) -> str:
    """`text` with NUL and lone surrogates escaped, safe to store and print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def storable(text: str | None) -> str | None:
    """`text` made safe to store: NUL and lone surrogates escaped; None stays None."""
    return None if text is None else _printable(text)


def parse_json(body: bytes) -> Any:
    """The JSON value of a raw body, read so that nothing is lost: fractions as exact
    `Decimal`s, integers of more than `MAX_INTEGER_DIGITS` digits refused before Python
    converts them (it refuses 4,300 and more, and a long conversion costs time), a field name
    twice in one object refused (parsers disagree on which one counts), NaN and Infinity
    refused (not JSON). Raises `InvalidEvent` for every body it cannot read, whatever the
    bytes; never anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidEvent(RejectionCode.NOT_UTF8, f"body is not UTF-8: {error}") from None
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise InvalidEvent(RejectionCode.NOT_JSON, "body nests too deeply to be read") from None
    except ValueError as error:  # json.JSONDecodeError and any other refusal of the parser
        raise InvalidEvent(RejectionCode.NOT_JSON, f"body is not JSON: {error}") from None


def _json_integer(text: str) -> int:
    """An integer of the body, refused when it has more digits than any number may."""
    if len(text) - text.startswith("-") > MAX_INTEGER_DIGITS:
        raise InvalidEvent(
            RejectionCode.NUMBER_PRECISION,
            f"an integer of {len(text):,} characters is outside the contract's precision "
            f"(below 10^{MAX_INTEGER_DIGITS})",
        )
    return int(text)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the body, refused when a field name occurs twice."""
    result = dict(pairs)
    if len(result) != len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for index, name in enumerate(names) if name in names[:index])
        raise InvalidEvent(
            RejectionCode.INVALID_ENVELOPE,
            f"the field name {_printable(twice)[:128]!r} occurs twice in one object",
        )
    return result


def _json_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity, which Python's parser would accept: refused."""
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=_json_integer,
    parse_constant=_json_constant,
    object_pairs_hook=_json_object,
)
