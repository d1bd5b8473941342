"""Answers PostgreSQL writes as JSON text, sent as they come: for the hottest reads (an
agreement's live attainment, a page of figures), building and serialising the models cost more
CPU than the rest of the request. `json_sql` writes a model's fields in its order as its
serializers would: numbers by their field's `PlainSerializer` (`Presented`: rounded half away
from zero to 2 decimals, as `ROUND_HALF_UP` does; integral values as integers), times in UTC
as pydantic writes them. Each such answer has a test comparing it with the model's JSON."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, get_args, get_origin

from fastapi import Response
from pydantic import BaseModel, PlainSerializer

from events.envelope import json_number
from events.numbers import answer_number

NUMBER_SQL: dict[Callable[..., Any] | None, str] = {
    answer_number: "trim_scale(round({column}, 2))",
    json_number: "trim_scale({column})",
}
"""A numeric column as the field's serializer writes it (trailing zeros dropped)."""
TIME_SQL = (
    "to_char({column} AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {column}) = {column} "
    """THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""
)
"""A timestamptz as pydantic writes an aware UTC datetime: `2022-10-27T08:00:00Z`, with six
digits of microseconds when it has any."""


def field_serializer(annotation: Any, metadata: Sequence[Any] = ()) -> Callable[..., Any] | None:
    """The `PlainSerializer` function of a field's type (also inside `X | None` and `list[X]`)."""
    found = [m.func for m in metadata if isinstance(m, PlainSerializer)]
    if get_origin(annotation) is Annotated:
        found += [m.func for m in annotation.__metadata__ if isinstance(m, PlainSerializer)]
    for argument in () if found else get_args(annotation):
        found += [serializer] if (serializer := field_serializer(argument)) else []
    return found[0] if found else None


def json_sql(model: type[BaseModel], table: str) -> str:
    """A `json_build_object` of `model`'s fields, in its order, from the same-named columns of
    `table` (an alias)."""
    pairs = []
    for name, field in model.model_fields.items():
        column = f"{table}.{name}"
        if datetime in (field.annotation, *get_args(field.annotation)):
            value = TIME_SQL
        else:
            value = NUMBER_SQL.get(field_serializer(field.annotation, field.metadata), "{column}")
        if get_origin(field.annotation) is list:
            value = (
                f"(SELECT coalesce(json_agg({value.format(column='p.value')} ORDER BY p.n), "
                f"'[]') FROM unnest({column}) WITH ORDINALITY AS p(value, n))"
            )
        pairs.append(f"'{name}', {value.format(column=column)}")
    return f"json_build_object({', '.join(pairs)})"


def json_answer(text: str, position: int) -> Response:
    """An answer PostgreSQL wrote, standing at `position` (`X-Position`)."""
    return Response(text, media_type="application/json", headers={"X-Position": str(position)})
