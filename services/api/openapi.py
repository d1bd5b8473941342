"""The OpenAPI document as the API really answers: every 4xx/5xx response (422 included, instead
of FastAPI's `{"detail": ...}`) has the one error shape, and `POST /ingest` documents its body
(one envelope, or an array of up to 1,000)."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from events.envelope import Envelope
from services.api.errors import ErrorResponse

REF = "#/components/schemas/{model}"
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
MAX_INGEST_BATCH = 1000


def add_schema(components: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Put `schema` and its `$defs` among the components."""
    components.update(schema.pop("$defs", {}))
    components[name] = schema


def error_shaped(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the real error shape on every 4xx/5xx and the ingest body described."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    add_schema(components, "ErrorResponse", ErrorResponse.model_json_schema(ref_template=REF))
    add_schema(components, "Envelope", Envelope.model_json_schema(ref_template=REF))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for code, answer in operation.get("responses", {}).items():
                if str(code)[0] in "45":
                    answer["content"] = {"application/json": {"schema": ERROR_REF}}
                    if str(code) == "422":
                        answer["description"] = "invalid_request: a bad parameter or path value"
    ingest = document.get("paths", {}).get("/ingest", {}).get("post")
    if ingest is not None:
        envelope = {"$ref": "#/components/schemas/Envelope"}
        ingest["requestBody"] = {
            "required": True,
            "description": f"one envelope, or a JSON array of up to {MAX_INGEST_BATCH:,}",
            "content": {"application/json": {"schema": {"oneOf": [
                envelope, {"type": "array", "items": envelope, "maxItems": MAX_INGEST_BATCH},
            ]}}},
        }  # fmt: skip
    return document


def openapi_with_error_shape(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """A replacement for `app.openapi` building the corrected document once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = error_shaped(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    routes=app.routes,
                    description=app.description,
                )
            )
        return app.openapi_schema

    return openapi
