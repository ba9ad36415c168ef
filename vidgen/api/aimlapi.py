"""The aimlapi dialect: ``/v2/video/generations`` and the legacy
``/v2/generate/video/runway/generation`` (seeds 000–003, API-NOTES §1).

Translate in: the body (``api.aimlapi_body``) becomes a ``GenerationRequest`` (``ratio`` and
``last_image_url`` are accepted as the older names of ``aspect_ratio`` and ``tail_image_url``).
aimlapi's fields for the other kinds are translated, nothing more: ``video_url`` (video to video,
or the input of a model that only upscales or re-times), ``character`` and ``reference``
(character performance), ``references`` (reference images), ``frame_size`` (a size in pixels,
as the model's aspect ratio), and a model's own fields (``generate_audio``, ``negative_prompt``,
``resolution``, ``body_control``…) as the request's options, which the service checks against
the model. Any other field is handed over as sent (``extras``): the service keeps it for a model
only the upstream knows and refuses it for any other. Render out: a ``Generation`` becomes the
seeds' poll schema, errors become aimlapi's error body ``{message, path, requestId, statusCode,
timestamp}`` plus per-field ``errors``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter

from vidgen.api.aimlapi_body import NAME, CreateGeneration
from vidgen.api.deps import CurrentKey, ServiceDep, current_key, public_base_url, service_of
from vidgen.api.dialect import (
    Dialect,
    IdempotencyKey,
    error_fields,
    fast_path,
    note_model_name,
)
from vidgen.api.preferences import CreateOptions, CreatePreferences
from vidgen.core.keys import ApiKey
from vidgen.core.models import (
    Generation,
    Status,
)
from vidgen.errors import FieldError, InvalidRequest, VidgenError
from vidgen.logs import request_id_var
from vidgen.service import Service

__all__ = ["DIALECT", "router"]

_REFERENCE = re.compile(r"references\.\d+")


class AimlapiDialect(Dialect):
    name = NAME
    tag = "aimlapi"
    prefixes = ("/v2/video/generations", "/v2/generate/video")
    field_names = {
        "first_image": "image_url",
        "last_image": "tail_image_url",
        "aspect_ratio": "aspect_ratio",
        "idempotency_key": "Idempotency-Key",
        "video": "video_url",
        "performance": "reference.url",
        "character": "character.url",
    }

    def wire_name(self, field: str) -> str:
        """A reference image's problem is its ``url``'s: ``references.0`` is ``references.0.url``."""
        name = super().wire_name(field)
        return f"{name}.url" if _REFERENCE.fullmatch(name) else name

    def render_error(self, request: Request, error: VidgenError) -> JSONResponse:
        body: dict[str, Any] = {
            "message": error.message,
            "path": request.url.path,
            "requestId": request_id_var.get(),
            "statusCode": error.http_status,
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        fields = error_fields(self, request, error)
        if fields:
            body["errors"] = fields
            message = error.message
            if isinstance(error, InvalidRequest) and any(
                message.startswith(f"{e.field}: ") for e in error.errors
            ):
                # A one-field error's message names the field in vidgen's own spelling
                # (``video: …``); the list below names it in aimlapi's.
                message = InvalidRequest.title(error.errors)
            body["message"] = f"{message} " + "; ".join(
                f"{f['field']}: {f['message']}" for f in fields
            )
        return JSONResponse(body, status_code=error.http_status)


DIALECT = AimlapiDialect()
router = APIRouter(tags=["aimlapi"], route_class=DIALECT.route_class())

STATUS_WORDS: dict[Status, str] = {
    Status.QUEUED: "queued",
    Status.GENERATING: "generating",
    Status.COMPLETED: "completed",
    Status.FAILED: "error",
    Status.CANCELLED: "error",
}


class Created(BaseModel):
    id: str = Field(..., description="The generation id to poll with.")
    status: Literal["queued", "generating", "completed", "error"]


class Video(BaseModel):
    url: str = Field(..., description="Signed download link; expires (24 h by default).")
    duration: float | None = None


class ErrorInfo(BaseModel):
    name: str
    message: str


class Usage(BaseModel):
    # int first: whole credits read 8, as the seeds show them, not 8.0 (both are JSON numbers).
    credits_used: int | float
    tokens_used: int | float = Field(
        ..., description="Same as credits_used (the seeds' poll schema)."
    )


class QueuePlace(BaseModel):
    position: int = Field(..., ge=1, description="1: the next generation a worker takes.")
    eta_seconds: int | None = Field(
        ...,
        description="Estimated seconds until it is done, from the model's measured run times; "
        "null until one has completed.",
    )


class Meta(BaseModel):
    usage: Usage | None
    engine: str = Field(..., description="The engine that serves this model, e.g. `preview`.")
    model: str
    seed: int
    aspect_ratio: str
    progress: float = Field(..., ge=0, le=1)
    thumbnail_url: str | None = Field(
        None, description="Signed link to a JPEG of the middle frame."
    )
    created_at: datetime
    completed_at: datetime | None = None
    queue: QueuePlace | None = Field(
        None, description="vidgen extension: where a queued generation stands; null otherwise."
    )


class GenerationStatus(BaseModel):
    id: str
    status: Literal["queued", "generating", "completed", "error"]
    video: Video | None = None
    duration: float | None = None
    error: ErrorInfo | None = None
    meta: Meta | None = None


async def render_generation(
    request: Request, service: Service, generation: Generation
) -> GenerationStatus:
    base_url = public_base_url(request)
    link = await service.links.file_url(generation, base_url)
    thumbnail = await service.links.file_url(generation, base_url, thumbnail=True)
    duration = generation.video.duration if generation.video else None
    charged, failure = generation.credits_charged, generation.failure
    queue = await service.live.queue(generation)
    # Validated as one nested document: one pass of pydantic-core, where building each
    # nested model on its own validates four times (every poll answer is rendered here).
    return GenerationStatus.model_validate(
        {
            "id": generation.id,
            "status": STATUS_WORDS[generation.status],
            "video": {"url": link[0], "duration": duration} if link else None,
            "duration": duration,
            "error": {"name": failure.name, "message": failure.message} if failure else None,
            "meta": {
                "usage": {"credits_used": charged, "tokens_used": charged},
                "engine": generation.engine,
                "model": generation.model,
                "seed": generation.seed,
                "aspect_ratio": generation.aspect_ratio,
                "progress": round(generation.progress, 4),
                "thumbnail_url": thumbnail[0] if thumbnail else None,
                "created_at": generation.created_at,
                "completed_at": generation.finished_at if generation.status.is_final else None,
                "queue": queue.to_json() if queue else None,
            },
        }
    )


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """aimlapi's error body (docs.aimlapi.com, "Errors and messages"), plus per-field details."""

    message: str
    path: str
    requestId: str | None  # aimlapi's wire names are camelCase
    statusCode: int
    timestamp: str
    errors: list[FieldProblem] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Body validation error: `errors` lists each field and why.",
        401: "Missing, unknown or revoked API key.",
        403: "Not enough credits for this generation.",
        404: "No such generation for this key.",
        409: "The Idempotency-Key was used with a different request.",
        413: "Request body too large.",
        429: "Too many requests; see Retry-After.",
    }.items()
}


STATUS_FILTERS: dict[str, tuple[Status, ...]] = {
    "queued": (Status.QUEUED,),
    "generating": (Status.GENERATING,),
    "completed": (Status.COMPLETED,),
    "error": (Status.FAILED, Status.CANCELLED),
}


class GenerationList(BaseModel):
    """vidgen extension: a page of this key's generations, newest first."""

    object: Literal["list"] = "list"
    data: list[GenerationStatus]
    has_more: bool
    next_cursor: str | None = Field(None, description="Pass as `after` for the next page.")


async def _create(
    request: Request,
    response: Response,
    body: CreateGeneration,
    key: ApiKey,
    service: Service,
    idempotency_key: str | None,
    options: CreatePreferences,
) -> GenerationStatus | Created:
    spec = service.catalog.find(body.model)
    note_model_name(request, spec.id if spec else None, body.model)
    canonical = body.to_request(
        spec, base_url=public_base_url(request), idempotency_key=idempotency_key
    )
    submission = await service.generations.submit(key, options.apply(canonical))
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    generation = await options.hold(service, key, submission.generation, response)
    if options.waited:
        # Held with Prefer: wait, the answer is the poll's: the video is there once it ended.
        return await render_generation(request, service, generation)
    return Created(id=generation.id, status=STATUS_WORDS[generation.status])


async def _poll(
    request: Request, generation_id: str, key: ApiKey, service: Service
) -> GenerationStatus:
    if not generation_id.strip():
        raise InvalidRequest(
            [FieldError("generation_id", "must not be empty")], "Query validation error!"
        )
    generation = await service.generations.get(key, generation_id)
    return await render_generation(request, service, generation)


GENERATION_ID_MAX = 100
GenerationId = Annotated[
    str, Query(description="The id the create call returned.", max_length=GENERATION_ID_MAX)
]
OptionalGenerationId = Annotated[
    str | None,
    Query(description="The id the create call returned.", max_length=GENERATION_ID_MAX),
]
_STATUS_JSON = TypeAdapter(GenerationStatus)


async def poll_fast(request: Request) -> Response | None:
    """The poll as clients send it, every few seconds per generation: ``?generation_id=…`` and
    nothing else. Anything else (a list, a bad or missing id) goes the endpoint's way."""
    # Parsed as Starlette's QueryParams parses it, without building the multi-dict.
    query = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    if len(query) != 1 or query[0][0] != "generation_id":
        return None
    generation_id = query[0][1]
    if not generation_id.strip() or len(generation_id) > GENERATION_ID_MAX:
        return None
    key = await current_key(request)
    status = await _poll(request, generation_id, key, service_of(request))
    return Response(_STATUS_JSON.dump_json(status), media_type="application/json")


@router.post(
    "/v2/video/generations",
    response_model=GenerationStatus | Created,
    responses=ERROR_RESPONSES,
    summary="Create a video generation",
)
async def create_generation(
    request: Request,
    response: Response,
    body: CreateGeneration,
    key: CurrentKey,
    service: ServiceDep,
    options: CreateOptions,
    idempotency_key: IdempotencyKey = None,
) -> GenerationStatus | Created:
    return await _create(request, response, body, key, service, idempotency_key, options)


@router.get(
    "/v2/video/generations",
    response_model=GenerationStatus | GenerationList,
    responses=ERROR_RESPONSES,
    summary="Poll a video generation, or list this key's generations",
    description="With `generation_id`: that generation. Without it (a vidgen extension): this "
    "key's generations, newest first, `limit` at a time, optionally only those in `status`; "
    "pass a page's `next_cursor` as `after` to get the next page.",
)
@fast_path(poll_fast)
async def get_generation(
    request: Request,
    key: CurrentKey,
    service: ServiceDep,
    generation_id: OptionalGenerationId = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (list only).")] = 20,
    after: Annotated[str | None, Query(max_length=100, description="Cursor (list only).")] = None,
    status: Annotated[
        Literal["queued", "generating", "completed", "error"] | None,
        Query(description="Only generations in this status (list only)."),
    ] = None,
) -> GenerationStatus | GenerationList:
    if generation_id is not None:
        return await _poll(request, generation_id, key, service)
    page, more = await service.generations.list(
        key, limit=limit, after=after, statuses=STATUS_FILTERS[status] if status else None
    )
    return GenerationList(
        data=[await render_generation(request, service, g) for g in page],
        has_more=more,
        next_cursor=page[-1].id if more and page else None,
    )


@router.delete(
    "/v2/video/generations",
    response_model=GenerationStatus,
    responses=ERROR_RESPONSES,
    summary="Cancel a video generation (vidgen extension)",
    description="A queued generation ends at once (`error`, name `Cancelled`) and is refunded. "
    "A running one is stopped at its engine's next check, then refunded; until then it reads "
    "`generating`. A finished one is left as it is.",
)
async def cancel_generation(
    request: Request, generation_id: GenerationId, key: CurrentKey, service: ServiceDep
) -> GenerationStatus:
    generation = await service.generations.cancel(key, generation_id)
    return await render_generation(request, service, generation)


@router.post(
    "/v2/generate/video/runway/generation",
    response_model=GenerationStatus | Created,
    responses=ERROR_RESPONSES,
    summary="Create a video generation (legacy route)",
)
async def create_generation_legacy(
    request: Request,
    response: Response,
    body: CreateGeneration,
    key: CurrentKey,
    service: ServiceDep,
    options: CreateOptions,
    idempotency_key: IdempotencyKey = None,
) -> GenerationStatus | Created:
    return await _create(request, response, body, key, service, idempotency_key, options)


@router.get(
    "/v2/generate/video/runway/generation",
    response_model=GenerationStatus,
    responses=ERROR_RESPONSES,
    summary="Poll a video generation (legacy route)",
)
@fast_path(poll_fast)
async def get_generation_legacy(
    request: Request, generation_id: GenerationId, key: CurrentKey, service: ServiceDep
) -> GenerationStatus:
    return await _poll(request, generation_id, key, service)
