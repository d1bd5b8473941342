"""CSV answers of list endpoints: `?format=csv` or `Accept: text/csv`, the same filters and the
same columns as the JSON items, a header row, comma-separated (the `csv` module's defaults),
with a `Content-Disposition` naming the file."""

import csv
import io
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "JSON, or CSV with `?format=csv` or `Accept: text/csv`"},
}  # fmt: skip
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
        headers={**kept, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
