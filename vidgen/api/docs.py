"""The API docs at ``/docs``: Swagger UI over ``/openapi.json``, every file of it served by this
server, so that the page works on a machine with no internet (FastAPI's own page loads Swagger
UI from a CDN, and without one it stays blank).

The files come from the ``fastapi-swagger`` package, which ships Swagger UI's release build
(``swagger-ui-bundle.js``, ``swagger-ui.css``, the favicon) and tracks its releases; the page
itself is FastAPI's ``get_swagger_ui_html``, pointed at ``/docs/assets/``. ReDoc is off: one
docs page is enough, and it would be another megabyte to ship.

Like the playground, the page talks to its own origin only, and its Content-Security-Policy
says so: scripts from ``'self'`` plus the one inline script that starts Swagger UI (allowed by
its hash), fetches (the OpenAPI document, "Try it out") to ``'self'``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache, lru_cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from vidgen.api.dialect import ServiceRoute
from vidgen.api.playground import COMMON_HEADERS, Asset, asset_response

__all__ = ["DOCS_PATH", "docs_page", "router"]

router = APIRouter(include_in_schema=False, route_class=ServiceRoute)

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
#: The files of Swagger UI that the page loads, from the fastapi-swagger package.
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@cache
def _assets() -> dict[str, Asset]:
    """The allow-list of files, read once (no path is ever resolved from the URL)."""
    package = files("fastapi_swagger.resources")
    return {
        name: Asset.of(package.joinpath(name).read_bytes(), media_type)
        for name, media_type in ASSET_TYPES.items()
    }


@lru_cache(maxsize=8)
def docs_page(root_path: str, title: str) -> tuple[bytes, str]:
    """The page for an app mounted at ``root_path``, and the Content-Security-Policy for it."""
    assets = root_path + ASSETS_PATH
    page = bytes(
        get_swagger_ui_html(
            openapi_url=root_path + "/openapi.json",
            title=f"{title} - API docs",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            # Swagger UI's default sends the spec's URL to an online validator for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        ).body
    )
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page.decode())
    )
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return page, policy


@router.get(DOCS_PATH)
async def docs(request: Request) -> Response:
    page, policy = docs_page(request.scope.get("root_path", "").rstrip("/"), request.app.title)
    headers = {**COMMON_HEADERS, "Content-Security-Policy": policy, "Cache-Control": "no-cache"}
    return Response(page, media_type="text/html; charset=utf-8", headers=headers)


@router.get(ASSETS_PATH + "/{name}")
async def docs_asset(name: str, request: Request) -> Response:
    asset = _assets().get(name)
    if asset is None:
        raise HTTPException(status_code=404)
    return asset_response(request, asset)
