"""Runway's ephemeral uploads: ``POST /v1/uploads`` starts one (the runwayml SDK's
``uploads.create_ephemeral``), and the file is posted as a form to the URL it answers, a vidgen
route. The rules (who may post, how large, how long it is kept) are ``service.uploads``'s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from vidgen.api.deps import CurrentKey, ServiceDep, public_base_url
from vidgen.api.forms import read_form
from vidgen.api.runway import DIALECT, ERRORS, RunwayVersion, check_version
from vidgen.core.storage import CHUNK_BYTES
from vidgen.errors import FieldError, InvalidRequest, ServiceUnavailable

__all__ = ["router"]

router = APIRouter(tags=["runway"], route_class=DIALECT.route_class())


class UploadStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(..., min_length=1, max_length=255, description="The file's name.")
    type: Literal["ephemeral"] = Field("ephemeral", description="Only ephemeral uploads exist.")


class UploadStarted(BaseModel):
    uploadUrl: str = Field(..., description="Post the file here, as multipart/form-data.")
    fields: dict[str, str] = Field(..., description="Form fields to post with the file.")
    runwayUri: str = Field(..., description="Name the file by this URI in a request (24 h).")


@router.post(
    "/v1/uploads",
    response_model=UploadStarted,
    responses=ERRORS,
    summary="Start an ephemeral upload",
)
async def start_upload(
    request: Request,
    body: UploadStart,
    key: CurrentKey,
    service: ServiceDep,
    version: RunwayVersion = None,
) -> UploadStarted:
    check_version(version)
    if service.uploads is None:
        raise ServiceUnavailable("uploads are not configured on this server")
    started = service.uploads.start(key.id)
    url = f"{public_base_url(request)}/v1/uploads/{started.upload_id}/file"
    return UploadStarted(uploadUrl=url, fields=started.fields, runwayUri=started.uri)


#: The file post's form, for the OpenAPI document: the route reads the form itself (below).
_FILE_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["key", "signature", "file"],
                    "properties": {
                        "key": {"type": "string", "description": "From `fields`."},
                        "signature": {"type": "string", "description": "From `fields`."},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The file, after the fields (as a bucket wants it).",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/v1/uploads/{upload_id}/file",
    status_code=204,
    responses=ERRORS,
    summary="Post an upload's file (the URL that POST /v1/uploads answered)",
    openapi_extra=_FILE_FORM,
)
async def post_upload(upload_id: str, request: Request, service: ServiceDep) -> None:
    uploads = service.uploads
    if uploads is None:
        raise ServiceUnavailable("uploads are not configured on this server")

    def authorize(fields: Mapping[str, str]) -> None:
        # The file may be as large as an input video, more than any other body (and no API key
        # comes with it): a post whose fields do not authorize it is refused before its bytes
        # are read, as a bucket checks a presigned POST's fields before the file.
        uploads.authorize(upload_id, fields.get("key", ""), fields.get("signature", ""))

    form = await read_form(request, max_files=1, max_fields=8, before_file=authorize)
    file = form.get("file")
    missing = [name for name in ("key", "signature") if not isinstance(form.get(name), str)]
    if not isinstance(file, UploadFile):
        missing.append("file")
    if missing:
        raise InvalidRequest([FieldError(name, "is required") for name in missing])
    assert isinstance(file, UploadFile)

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(CHUNK_BYTES):
            yield chunk

    await uploads.store(upload_id, str(form["key"]), str(form["signature"]), chunks())
