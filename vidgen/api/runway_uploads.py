"""Runway's ephemeral uploads: ``POST /v1/uploads`` starts one (the runwayml SDK's
``uploads.create_ephemeral``), and the file is posted as a form to the URL it answers, a vidgen
route. The rules (who may post, how large, how long it is kept) are ``service.uploads``'s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from vidgen.api.deps import CurrentKey, ServiceDep, public_base_url
from vidgen.api.runway import DIALECT, ERRORS, RunwayVersion, check_version
from vidgen.core.storage import CHUNK_BYTES
from vidgen.errors import ServiceUnavailable

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


@router.post(
    "/v1/uploads/{upload_id}/file",
    status_code=204,
    responses=ERRORS,
    summary="Post an upload's file (the URL that POST /v1/uploads answered)",
)
async def post_upload(
    upload_id: str,
    service: ServiceDep,
    key: Annotated[str, Form()],
    signature: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> None:
    if service.uploads is None:
        raise ServiceUnavailable("uploads are not configured on this server")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(CHUNK_BYTES):
            yield chunk

    await service.uploads.store(upload_id, key, signature, chunks())
