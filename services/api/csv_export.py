"""CSV answers of list endpoints: `?format=csv` or `Accept: text/csv`, the same filters and the
same columns as the JSON items, a header row, comma-separated (the `csv` module's defaults),
with a `Content-Disposition` naming the file (RFC 6266: an ASCII `filename` and the exact name as
`filename*`, so ids with any characters make a valid header)."""

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Query, Request, Response
from pydantic import BaseModel

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "JSON, or CSV with `?format=csv` or `Accept: text/csv`"},
}  # fmt: skip
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
"""What the ASCII fallback file name replaces with `_`: everything but letters, digits, `.-_`
(quotes, backslashes, separators, control characters, non-ASCII)."""
ExportFormat = Annotated[
    Literal["json", "csv"] | None,
    Query(description="`csv` for a CSV file (also chosen by `Accept: text/csv`)"),
]


def wants_csv(request: Request, export_format: str | None) -> bool:
    """Whether the client asked for CSV (the query parameter wins over `Accept`)."""
    if export_format is not None:
        return export_format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def cell(value: Any) -> str:
    """A JSON value as one CSV cell: null empty, booleans as true/false, lists and objects as
    JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def content_disposition(filename: str) -> str:
    """An attachment header for `filename` (RFC 6266, 5987): an ASCII fallback with unsafe
    characters replaced, and the exact name percent-encoded as UTF-8."""
    fallback = UNSAFE_IN_FILENAME.sub("_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def csv_response(
    items: Sequence[BaseModel], model: type[BaseModel], filename: str, headers: dict[str, str]
) -> Response:
    """`items` as CSV with one column per field of `model`, in its order."""
    columns = list(model.model_fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        row = item.model_dump(mode="json")
        writer.writerow([cell(row.get(column)) for column in columns])
    kept = {name: value for name, value in headers.items() if name.lower() == "x-position"}
    return Response(
        buffer.getvalue(),
        media_type=CSV_MEDIA_TYPE,
        headers={**kept, "Content-Disposition": content_disposition(filename)},
    )
