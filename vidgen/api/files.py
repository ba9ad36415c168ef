"""Downloads: ``GET /files/<key>?_jwt=…`` with HTTP Range support (206), so players can seek.

The link is signed and expires (see ``storage.links``); a tampered, expired or missing token is
refused with 403, and a valid token for an object that is gone gets 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from vidgen.api.deps import RuntimeDep, public_base_url
from vidgen.core.models import Generation
from vidgen.runtime import Runtime
from vidgen.storage.links import LinkRefused

router = APIRouter(tags=["files"])


async def download_url(
    request: Request, runtime: Runtime, generation: Generation, *, thumbnail: bool = False
) -> tuple[str, int] | None:
    """A signed URL for the generation's video (or its thumbnail) and its expiry (unix
    seconds), or None while there is none."""
    return await runtime.file_url(generation, public_base_url(request), thumbnail)


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
    runtime: RuntimeDep,
    token: Annotated[str | None, Query(alias="_jwt")] = None,
) -> Response:
    try:
        runtime.links.verify(token, key=key)
    except LinkRefused as exc:
        return _refused(str(exc))
    try:
        path = runtime.storage.local_path(key)
    except ValueError:
        return _refused("not found", 404)
    if path is None or not path.is_file():
        return _refused("not found", 404)
    return FileResponse(
        path,
        media_type="video/mp4" if key.endswith(".mp4") else None,
        filename=key.rsplit("/", 1)[-1],
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=3600"},
    )
