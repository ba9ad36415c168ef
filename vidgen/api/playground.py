"""The web playground: one page at ``/`` and its static assets under ``/static/``.

The page is plain HTML, CSS and ES modules (no build step). It talks to its own origin only (the
aimlapi routes, and apiframe's job list for the prompts aimlapi's answers lack), so its
Content-Security-Policy allows nothing else: scripts, styles and
fetches from ``'self'``; images and media from ``'self'``, ``data:`` and ``blob:`` (previews
of a picked file, and the signed ``/files/`` links). When ``VIDGEN_PUBLIC_URL`` points links at
another origin, that origin is allowed for images and media too, since that is where they are.

None of these routes is part of the OpenAPI document: they are a UI, not the API.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from vidgen.api.dialect import ServiceRoute
from vidgen.settings import Settings

__all__ = ["COMMON_HEADERS", "STATIC_DIR", "Asset", "asset_response", "router"]

router = APIRouter(include_in_schema=False, route_class=ServiceRoute)

STATIC_DIR = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: Headers every playground response carries. The page is never framed (no clickjacking of the
#: key field), and links carry no referrer.
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Asset:
        return cls(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:20]}"')


@cache
def _assets() -> dict[str, Asset]:
    """The files a browser may fetch, read once: an allow-list, so no path is ever resolved
    from the URL."""
    assets: dict[str, Asset] = {}
    for path in sorted(STATIC_DIR.iterdir()):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        assets[path.name] = Asset.of(path.read_bytes(), media_type)
    return assets


def content_security_policy(settings: Settings) -> str:
    """What the page needs and nothing more (see the module docstring)."""
    media = ["'self'"]
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        media.append(f"{parts.scheme}://{parts.netloc}")
    sources = " ".join(media)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            f"img-src {sources} data: blob:",
            f"media-src {sources} blob:",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


@cache
def _page_template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def render_page(settings: Settings) -> str:
    """index.html with the server's own limits filled in, so the page checks what the server
    will check (a data-URI image cap, a pixel cap) before sending anything."""
    values = {
        "max_data_uri_bytes": settings.max_data_uri_bytes,
        "max_image_pixels": settings.max_image_pixels,
        "max_body_bytes": settings.max_body_bytes,
        "max_video_bytes": settings.max_video_bytes,
    }
    page = _page_template()
    for name, value in values.items():
        page = page.replace("{{" + name + "}}", html.escape(str(value)))
    return page


@router.get("/", response_class=HTMLResponse)
async def playground_page(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    return HTMLResponse(
        render_page(settings),
        headers={
            **COMMON_HEADERS,
            "Content-Security-Policy": content_security_policy(settings),
            "Cache-Control": "no-cache",
        },
    )


@router.get("/static/{name}")
async def playground_asset(name: str, request: Request) -> Response:
    asset = _assets().get(name)
    if asset is None:
        raise HTTPException(status_code=404)
    return asset_response(request, asset)


def asset_response(request: Request, asset: Asset) -> Response:
    """An asset, or a 304 when the browser has it. Revalidated on every load (cheap: a 304),
    so an upgraded server never runs stale modules."""
    headers = {**COMMON_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
