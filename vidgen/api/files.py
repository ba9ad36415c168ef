"""Downloads: ``GET /files/<key>?_jwt=…`` with HTTP Range support (206), so players can seek.

The link is signed and expires (see ``storage.links``); a tampered, expired or missing token is
refused with 403, and a valid token for an object that is gone gets 404. Local files are sent
by Starlette's ``FileResponse``; objects in a bucket (``VIDGEN_STORAGE_PROXY_DOWNLOADS``, and
the OpenAI dialect's ``/content``) are streamed with a ranged GET of just the bytes asked for.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from vidgen.api.deps import ServiceDep
from vidgen.api.dialect import ServiceRoute
from vidgen.errors import LinkRefused
from vidgen.service import Download

__all__ = ["RangeNotSatisfiable", "parse_range", "router", "send_object"]

router = APIRouter(tags=["files"], route_class=ServiceRoute)


def _refused(reason: str, status: int = 403) -> JSONResponse:
    return JSONResponse({"error": reason, "statusCode": status}, status_code=status)


@router.head("/files/{key:path}", include_in_schema=False)
@router.get(
    "/files/{key:path}",
    summary="Download a generated file through a signed link",
    response_class=FileResponse,
    responses={
        403: {"description": "missing, tampered or expired link"},
        404: {"description": "gone"},
    },
)
async def download_file(
    key: str,
    request: Request,
    service: ServiceDep,
    token: Annotated[str | None, Query(alias="_jwt")] = None,
) -> Response:
    try:
        download = service.links.signed_file(key, token)
    except LinkRefused as exc:
        return _refused(str(exc))
    response = await send_object(request, download)
    return response if response is not None else _refused("not found", 404)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the object does not have (416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (start, end inclusive) a ``Range`` header asks for, or None to send
    the whole object (no header, several ranges, or a form we do not serve: RFC 9110 lets a
    server ignore those). Raises RangeNotSatisfiable for a range past the end."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable()
        return max(0, size - count), size - 1
    start = int(first)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable()
    return start, min(int(last), size - 1) if last else size - 1


async def send_object(request: Request, download: Download) -> Response | None:
    """Send a stored object with Range support, or None when it does not exist."""
    storage, key, filename = download.storage, download.key, download.filename
    media_type = download.media_type or None
    headers = {
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    try:
        path = storage.local_path(key)
    except ValueError:
        return None
    if path is not None:
        if not path.is_file():
            return None
        return FileResponse(
            path,
            media_type=media_type,
            filename=filename,
            content_disposition_type="inline",
            headers={"Cache-Control": headers["Cache-Control"]},
        )
    info = await storage.stat(key)
    if info is None:
        return None
    media_type = media_type or info.media_type or "application/octet-stream"
    headers["Accept-Ranges"] = "bytes"
    try:
        wanted = parse_range(request.headers.get("range"), info.size)
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{info.size}"
        return Response(status_code=416, headers=headers)
    start, end = wanted or (0, info.size - 1)
    status = 200 if wanted is None else 206
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD" or info.size == 0:
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(
        storage.read_range(key, start, end),
        status_code=status,
        headers=headers,
        media_type=media_type,
    )
