"""Documents served from the package, nothing from a CDN: Swagger UI at `/docs` (the vendored
`swagger-ui-dist` bundle under `/static/vendor/swagger-ui/`), the channels' AsyncAPI document
at `/asyncapi.json` with a plain rendering at `/asyncapi`, and the dashboard at `/dashboard/`."""

import html
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from services.pipeline.contract import asyncapi_document

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SWAGGER = "/static/vendor/swagger-ui"

router = APIRouter(tags=["documents"])


def mount_static(app: FastAPI) -> None:
    """Serve the package's static files (`/static/...`) and the dashboard (`/dashboard/`)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(
        "/dashboard", StaticFiles(directory=STATIC_DIR / "dashboard", html=True), name="dashboard"
    )


@router.get("/docs", include_in_schema=False)
async def swagger_ui() -> HTMLResponse:
    """Swagger UI over `/openapi.json`, from the vendored bundle."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Zielsteuerung: API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
    )


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    """The dashboard."""
    return RedirectResponse("/dashboard/")


@router.get("/asyncapi.json", tags=["documents"])
async def asyncapi_json(request: Request) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `zs.ingest`, `zs.events` and `zs.rejected`."""
    return asyncapi_document(getattr(request.app.state, "broker_url", None))


def schema_type(schema: dict[str, Any]) -> str:
    """A short type of a JSON Schema property."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(schema_type(option) for option in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(repr(value) for value in schema["enum"])
    return str(schema.get("type", "any")) + (f" ({schema['format']})" if "format" in schema else "")


STYLE = (
    "body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
    "text-align:left}"
)


def last(reference: str) -> str:
    """The name a `$ref` points to."""
    return reference.rsplit("/", 1)[-1]


def render_payload(payload: dict[str, Any]) -> str:
    """A payload schema as a heading and a table of its fields."""
    required = set(payload.get("required", []))
    rows = "".join(
        f"<tr><td><code>{html.escape(field)}</code></td>"
        f"<td>{html.escape(schema_type(spec))}</td>"
        f"<td>{'yes' if field in required else ''}</td></tr>"
        for field, spec in payload.get("properties", {}).items()
    )
    title = html.escape(str(payload.get("title", "payload")))
    description = html.escape(str(payload.get("description", "")))
    header = "<tr><th>field</th><th>type</th><th>required</th></tr>"
    return f"<h3>{title}</h3><p>{description}</p><table>{header}{rows}</table>"


def render_asyncapi(document: dict[str, Any]) -> str:
    """A plain HTML page of the channels, their messages and the payloads' fields."""
    components = document.get("components", {})
    schemas, messages = components.get("schemas", {}), components.get("messages", {})
    actions = {
        last(operation["channel"]["$ref"]): operation["action"]
        for operation in document.get("operations", {}).values()
    }
    parts = [
        f"<h1>{html.escape(document['info']['title'])}</h1>",
        '<p>AsyncAPI 3.0: <a href="/asyncapi.json">asyncapi.json</a></p>',
    ]
    for name, channel in document.get("channels", {}).items():
        who = "the services receive" if actions.get(name) == "receive" else "the services send"
        parts.append(f'<section id="{html.escape(name)}"><h2>{html.escape(name)} ({who})</h2>')
        parts.append(f"<p>{html.escape(channel.get('description', ''))}</p>")
        for reference in channel.get("messages", {}).values():
            message = messages.get(last(reference["$ref"]), {})
            payload = schemas.get(last(message.get("payload", {}).get("$ref", "")), {})
            parts.append(render_payload(payload))
        parts.append("</section>")
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>AsyncAPI</title>"
        f"<style>{STYLE}</style><body>{''.join(parts)}</body></html>"
    )


@router.get("/asyncapi", include_in_schema=False)
async def asyncapi_page(request: Request) -> HTMLResponse:
    """The AsyncAPI document as a plain page."""
    document = asyncapi_document(getattr(request.app.state, "broker_url", None))
    return HTMLResponse(render_asyncapi(document))
