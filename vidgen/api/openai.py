"""The OpenAI-style video dialect: ``/v1/videos`` as OpenAI, SGLang and vLLM-Omni serve it
(API-NOTES §4), so the official ``openai`` SDK's ``videos`` resource works against vidgen.

Translate in: a create comes as multipart (what the SDK always sends; ``input_reference`` is a
file, or ``input_reference[image_url]``) or as JSON. ``seconds`` (a string of ASCII digits) is the
duration and ``size`` (``1280x720``) picks one of the model's frame sizes; without ``size`` it is
OpenAI's default ``720x1280`` where the model renders it, else the model's default ratio.
Anything the model cannot honour is a 400 naming the field. Render out: video objects with the
size really rendered (so a model's ``960x960`` reads ``960x960``, though OpenAI's SDK types only
its own four sizes), integer ``progress``, unix timestamps, ``expires_at`` for the download, and
``failed`` for both failures and cancels; the thumbnail as WebP. Errors:
``{"error": {"message", "type", "param", "code"}}``. OpenAI's routes that vidgen does not offer
(edits, extensions, characters, remix) answer 404 to a valid key.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from vidgen.api.deps import CurrentKey, ServiceDep, public_base_url
from vidgen.api.dialect import (
    Dialect,
    IdempotencyKey,
    note_model_name,
    request_fingerprint,
    validation_reason,
)
from vidgen.api.files import send_object
from vidgen.api.forms import read_form
from vidgen.api.preferences import CreateOptions
from vidgen.core.catalog import Catalog, ModelSpec
from vidgen.core.models import Generation, GenerationRequest, ImageRef, Status
from vidgen.errors import FieldError, InvalidRequest, NotFound, VidgenError
from vidgen.service import Service

__all__ = ["DIALECT", "router"]

STATUS_WORDS: dict[Status, str] = {
    Status.QUEUED: "queued",
    Status.GENERATING: "in_progress",
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "insufficient_quota",
    404: "invalid_request_error",
    408: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
}
#: OpenAI's default size (width, height): what a create that names none asks for.
DEFAULT_SIZE = (720, 1280)
#: Whole seconds in ASCII digits only: ``str.isdigit`` also passes "²" and "٣", which ``int``
#: then refuses or reads as another number.
_SECONDS = re.compile(r"[0-9]{1,4}")
#: ``size`` as OpenAI writes it, ``WIDTHxHEIGHT`` in pixels (any case, spaces around), each as
#: a size is written: ASCII digits without a leading zero, at most 5 of them.
_SIZE = re.compile(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")


def error_type(status: int) -> str:
    """OpenAI's ``error.type`` for a status: ``server_error`` only for a 5xx."""
    return ERROR_TYPES.get(status) or (
        "invalid_request_error" if 400 <= status < 500 else "server_error"
    )


class OpenAIDialect(Dialect):
    name = "openai"
    tag = "openai"
    prefixes = ("/v1/videos",)
    field_names = {
        "first_image": "input_reference",
        "aspect_ratio": "size",
        "duration": "seconds",
        "idempotency_key": "Idempotency-Key",
    }

    def render_error(self, request: Request, error: VidgenError) -> JSONResponse:
        param = None
        if isinstance(error, InvalidRequest) and error.errors:
            first = error.errors[0]
            param = self.field_label(first)
            message = "; ".join(
                f"{self.field_label(e)}: {self.field_reason(request, e)}" for e in error.errors
            )
        else:
            message = error.message
        body = {
            "error": {
                "message": message,
                "type": error_type(error.http_status),
                "param": param,
                "code": error.code,
            }
        }
        return JSONResponse(body, status_code=error.http_status)


DIALECT = OpenAIDialect()
router = APIRouter(tags=["openai"], route_class=DIALECT.route_class())


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int = Field(..., ge=0, le=100)
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = Field(None, description="When the download link stops working.")
    error: VideoError | None = None
    prompt: str | None = None
    seconds: str
    size: str
    remixed_from_video_id: str | None = None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


class CreateVideo(BaseModel):
    """The fields of a create, from multipart or JSON."""

    prompt: str = Field(..., max_length=1000)
    model: str | None = Field(
        None,
        description="A vidgen model id (default: the first model that can serve the request: "
        "one that takes a prompt alone when there is no `input_reference`).",
    )
    seconds: str | None = Field(
        None, description="Duration in whole seconds, as a string, e.g. `5` (the model's rule)."
    )
    size: str | None = Field(
        None,
        description="`WIDTHxHEIGHT`, one of the model's frame sizes (default `720x1280` where "
        "the model renders it, else the model's default ratio).",
    )
    input_reference: str | dict[str, str] | None = Field(
        None,
        description="The first frame: an image file (multipart), a URL or data URI, or "
        '`{"image_url": …}`.',
    )


def _reference(value: Any) -> ImageRef | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        url = value.get("image_url")
        if not isinstance(url, str) or not url:
            raise InvalidRequest.single(
                "input_reference", "give `image_url` (file_id is not supported)"
            )
        return ImageRef(url=url)
    return ImageRef(url=str(value))


async def _parse_create(request: Request) -> tuple[CreateVideo, ImageRef | None, str]:
    """The create's fields, its first frame, and a digest of everything it said."""
    content_type = request.headers.get("content-type", "")
    upload: UploadFile | None = None
    if content_type.startswith("multipart/form-data"):
        form = await read_form(request, max_files=2, max_fields=20)
        fields: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "input_reference":
                    raise InvalidRequest(
                        [FieldError(name, "is not a known file field", as_sent=True)]
                    )
                upload = value
            elif name.startswith("input_reference[") and name.endswith("]"):
                fields.setdefault("input_reference", {})[name[16:-1]] = value
            else:
                fields[name] = value
    else:
        try:
            fields = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise InvalidRequest.single("body", f"is not valid JSON: {exc}") from None
        except RecursionError:
            # json's parser recurses per level: 200,000 nested brackets overflow it.
            raise InvalidRequest.single("body", "is nested too deeply") from None
        if not isinstance(fields, dict):
            raise InvalidRequest.single("body", "must be a JSON object")
    unknown = sorted(set(fields) - set(CreateVideo.model_fields))
    if unknown:
        raise InvalidRequest(
            [FieldError(_as_sent(name), "is not a known field", as_sent=True) for name in unknown]
        )
    try:
        body = CreateVideo.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequest(
            [
                FieldError(".".join(str(p) for p in e["loc"]) or "body", validation_reason(e))
                for e in exc.errors()
            ]
        ) from None
    image = _reference(body.input_reference)
    digest = body.model_dump(exclude_none=True)
    if upload is not None:
        data = await upload.read()
        image = ImageRef(data=data, filename=upload.filename)
        digest["input_reference"] = hashlib.sha256(data).hexdigest()
    return body, image, request_fingerprint(DIALECT.name, digest)


def _as_sent(name: str) -> str:
    """A field's name as the client sent it, for an answer: ``json.loads`` keeps a lone
    surrogate (``"\\ud800"``), which no UTF-8 answer can carry, so it is quoted escaped."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _to_request(
    catalog: Catalog,
    body: CreateVideo,
    image: ImageRef | None,
    fingerprint: str,
    base_url: str,
    idempotency_key: str | None,
) -> GenerationRequest:
    # OpenAI's `model` is optional: without it, the catalog's choice for this request.
    spec = catalog.get(body.model) if body.model else catalog.default_for(has_image=bool(image))
    duration = _seconds(spec, body.seconds)
    return GenerationRequest(
        model=spec.id,
        prompt=body.prompt,
        first_image=image,
        aspect_ratio=_ratio(spec, body.size),
        duration=duration,
        dialect=DIALECT.name,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        base_url=base_url,
    )


def _seconds(spec: ModelSpec, seconds: str | None) -> int | None:
    """``seconds`` (a string of ASCII digits) as a duration; whether the model takes it is the
    service's rule, which it reports naming ``seconds`` too."""
    if seconds is None:
        return None
    digits = seconds.strip()
    if not _SECONDS.fullmatch(digits):
        raise InvalidRequest.single(
            "seconds",
            "{seconds!r} is not a whole number of seconds; {model} takes {durations}",
            model=spec.id,
            seconds=seconds,
            durations=spec.describe_durations(),
        )
    return int(digits)


def _ratio(spec: ModelSpec, size: str | None) -> str:
    """The aspect ratio whose frame size is ``size``. OpenAI always renders a size (its default
    when none is given), never one guessed from the image, so neither does this dialect."""
    if size is None:
        return spec.ratio_for_default_size(*DEFAULT_SIZE)
    pixels = _SIZE.fullmatch(size.strip().lower())
    ratio = spec.ratio_for_size(int(pixels[1]), int(pixels[2])) if pixels else None
    if ratio is None:
        offered = ", ".join(f"{w}x{h}" for w, h in spec.frame_sizes.values())
        raise InvalidRequest.single(
            "size",
            "{size!r} is not offered by {model}; use one of {offered}",
            model=spec.id,
            size=size,
            offered=offered,
        )
    return ratio


async def render_video(request: Request, service: Service, generation: Generation) -> Video:
    link = await service.links.file_url(generation, public_base_url(request))
    error = None
    if generation.status.is_unsuccessful:
        # OpenAI has no cancelled status: a cancel reads as a failure whose code says so.
        failure = generation.failure
        error = VideoError(
            code="cancelled"
            if generation.status is Status.CANCELLED
            else (failure.name if failure else "failed"),
            message=failure.message if failure else "The generation failed.",
        )
    return Video(
        id=generation.id,
        model=generation.model,
        status=STATUS_WORDS[generation.status],
        progress=round(generation.progress * 100),
        created_at=int(generation.created_at.timestamp()),
        completed_at=int(generation.finished_at.timestamp())
        if generation.finished_at and generation.status.is_final
        else None,
        expires_at=link[1] if link else None,
        error=error,
        prompt=generation.prompt or None,
        seconds=str(generation.duration),
        size=f"{generation.width}x{generation.height}",
    )


CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        "prompt": {"type": "string", "maxLength": 1000},
                        "model": {"type": "string"},
                        "seconds": {"type": "string"},
                        "size": {"type": "string"},
                        "input_reference": {"type": "string", "format": "binary"},
                    },
                }
            },
            "application/json": {"schema": CreateVideo.model_json_schema()},
        },
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request: `error.param` names the field."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "Not enough credits."},
    404: {"description": "No such video for this key."},
    409: {"description": "Idempotency-Key reused with another request."},
    413: {"description": "Body too large."},
    429: {"description": "Too many requests."},
}
VideoId = Annotated[str, Path(max_length=100)]


@router.post(
    "/v1/videos",
    response_model=Video,
    responses=ERRORS,
    openapi_extra=CREATE_BODY,
    summary="Create a video",
)
async def create_video(
    request: Request,
    response: Response,
    key: CurrentKey,
    service: ServiceDep,
    options: CreateOptions,
    idempotency_key: IdempotencyKey = None,
) -> Video:
    body, image, fingerprint = await _parse_create(request)
    named = service.catalog.find(body.model) if body.model else None
    note_model_name(request, named.id if named else None, body.model)
    submission = await service.generations.submit(
        key,
        options.apply(
            _to_request(
                service.catalog, body, image, fingerprint, public_base_url(request), idempotency_key
            )
        ),
    )
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    generation = await options.hold(service, key, submission.generation, response)
    return await render_video(request, service, generation)


@router.get(
    "/v1/videos/{video_id}", response_model=Video, responses=ERRORS, summary="Retrieve a video"
)
async def retrieve_video(
    request: Request, response: Response, video_id: VideoId, key: CurrentKey, service: ServiceDep
) -> Video:
    generation = await service.generations.get(key, video_id)
    if not generation.status.is_final:
        # The SDK's create_and_poll waits this long between polls.
        response.headers["openai-poll-after-ms"] = "1000"
    return await render_video(request, service, generation)


@router.get("/v1/videos", response_model=VideoList, responses=ERRORS, summary="List videos")
async def list_videos(
    request: Request,
    key: CurrentKey,
    service: ServiceDep,
    after: Annotated[str | None, Query(max_length=100)] = None,
    # OpenAI's spec allows 0: an empty page whose has_more says whether there are videos.
    limit: Annotated[int, Query(ge=0, le=100)] = 20,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> VideoList:
    page, more = await service.generations.list(
        key, limit=limit, after=after, newest_first=order == "desc"
    )
    data = [await render_video(request, service, g) for g in page]
    return VideoList(
        data=data,
        has_more=more,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
    )


@router.delete(
    "/v1/videos/{video_id}", response_model=VideoDeleted, responses=ERRORS, summary="Delete a video"
)
async def delete_video(video_id: VideoId, key: CurrentKey, service: ServiceDep) -> VideoDeleted:
    await service.generations.delete(key, video_id)
    return VideoDeleted(id=video_id, deleted=True)


@router.get(
    "/v1/videos/{video_id}/content",
    response_class=FileResponse,
    responses={**ERRORS, 200: {"content": {"video/mp4": {}, "image/webp": {}}}},
    summary="Download the video (or a WebP thumbnail of its middle frame)",
)
async def download_content(
    video_id: VideoId,
    request: Request,
    key: CurrentKey,
    service: ServiceDep,
    variant: Annotated[Literal["video", "thumbnail", "spritesheet"], Query()] = "video",
) -> Response:
    generation = await service.generations.get(key, video_id)
    if variant == "spritesheet":
        raise InvalidRequest.single(
            "variant", "spritesheet is not available; use video or thumbnail"
        )
    if generation.video is None:
        raise NotFound(
            f"Video {video_id!r} has no content yet (status {STATUS_WORDS[generation.status]})."
        )
    # OpenAI documents the thumbnail as WebP.
    download = await service.links.content(
        generation, "webp" if variant == "thumbnail" else "video"
    )
    response = await send_object(request, download) if download is not None else None
    if response is None:
        raise NotFound(f"The {variant} of video {video_id!r} is not available.")
    return response


#: OpenAI's video routes that vidgen does not offer, and what each would have done.
NOT_OFFERED = {
    "/v1/videos/edits": ("POST", "editing a video"),
    "/v1/videos/extensions": ("POST", "extending a video"),
    "/v1/videos/characters": ("POST", "characters"),
    "/v1/videos/characters/{character_id}": ("GET", "characters"),
    "/v1/videos/{video_id}/remix": ("POST", "remixing a video"),
}


def _not_offered(method: str, path: str, what: str) -> Any:
    async def not_offered(key: CurrentKey) -> Response:
        """OpenAI's SDK calls these; they answer as a route that does not exist, after the key
        check like every route here (a missing key is a 401; and a POST to /v1/videos/edits is
        not a 405 from the GET /v1/videos/{video_id} route)."""
        raise NotFound(f"vidgen does not offer {what} ({method} {path}).")

    return not_offered


for _path, (_method, _what) in NOT_OFFERED.items():
    router.add_api_route(
        _path, _not_offered(_method, _path, _what), methods=[_method], include_in_schema=False
    )
