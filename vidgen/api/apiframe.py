"""The apiframe dialect: ``/v2/videos/generate`` and ``/v2/jobs`` (seed 004, API-NOTES §2).

Translate in: ``runwayParams`` carries the image, duration, aspect ratio and seed. apiframe's docs
offer text-to-video without an image; vidgen's gen4_turbo is image to video, as Runway serves it,
so ``runwayParams.image`` is required (the catalog's rule, the same in every dialect). Unknown
fields are refused at both levels. Render out: jobs with apiframe's status words, ``progress``
0–100, ``result.videoUrl``, ``creditCost`` and ``expired``; a job made through another dialect
is named by apiframe's model id where apiframe has one. Errors: ``{"error", "details"}`` with
``details`` a map of field → messages, and ``{"error": "Insufficient credits",
"creditsRequired", "creditsAvailable"}`` with 402.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from vidgen.api.deps import CurrentKey, ServiceDep, public_base_url
from vidgen.api.dialect import Dialect, IdempotencyKey, error_fields, request_fingerprint
from vidgen.api.preferences import CreateOptions
from vidgen.core.catalog import Catalog
from vidgen.core.models import Generation, GenerationRequest, ImageRef, Status
from vidgen.errors import InsufficientCredits, VidgenError
from vidgen.service import Service

__all__ = ["DIALECT", "router"]
STATUS_WORDS: dict[Status, str] = {
    Status.QUEUED: "QUEUED",
    Status.GENERATING: "PROCESSING",
    Status.COMPLETED: "COMPLETED",
    Status.FAILED: "FAILED",
    Status.CANCELLED: "CANCELLED",
}
#: apiframe's event names → vidgen's (any case). Any other name goes to the service as sent,
#: which refuses it: the one check of events, the same in every dialect.
EVENTS = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "processing": "started",
    "started": "started",
    "progress": "progress",
}


class ApiframeDialect(Dialect):
    name = "apiframe"
    tag = "apiframe"
    prefixes = ("/v2/videos", "/v2/jobs")
    field_names = {
        "first_image": "runwayParams.image",
        "aspect_ratio": "runwayParams.aspect_ratio",
        "duration": "runwayParams.duration",
        "seed": "runwayParams.seed",
        "webhook_url": "webhookUrl",
        "webhook_events": "webhookEvents",
        "idempotency_key": "Idempotency-Key",
        "after": "cursor",
    }

    def render_error(self, request: Request, error: VidgenError) -> JSONResponse:
        if isinstance(error, InsufficientCredits):
            body: dict[str, Any] = {
                "error": "Insufficient credits",
                "creditsRequired": error.required,
                "creditsAvailable": error.available,
            }
            return JSONResponse(body, status_code=402)
        body = {"error": error.message}
        fields = error_fields(self, request, error)
        if fields:
            # apiframe's shape: each field with its messages, as `details.prompt[0]`.
            details: dict[str, list[str]] = {}
            for problem in fields:
                details.setdefault(problem["field"], []).append(problem["message"])
            body["error"] = "Validation failed"
            body["details"] = details
        return JSONResponse(body, status_code=error.http_status)


DIALECT = ApiframeDialect()
router = APIRouter(tags=["apiframe"], route_class=DIALECT.route_class())


class RunwayParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str | None = Field(
        None, description="Image URL (or data URI): the first frame. Required by gen4_turbo."
    )
    duration: int | None = Field(
        None, description="Whole seconds from 2 to 10 (default 5; 5 s costs 8, 10 s 15)."
    )
    aspect_ratio: str | None = Field(None, description="16:9 9:16 1:1 4:3 3:4 21:9")
    seed: int | None = Field(None, ge=0, le=4_294_967_295)


class GenerateVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(..., examples=["runway-gen4-turbo"])
    prompt: str = Field("", max_length=1000)
    runwayParams: RunwayParams = Field(default_factory=RunwayParams)
    webhookUrl: str | None = None
    webhookEvents: list[str] | None = None


class JobAccepted(BaseModel):
    jobId: str
    status: Literal["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]


class JobResult(BaseModel):
    videoUrl: str
    thumbnailUrl: str | None = None
    duration: float | None = None


class Job(BaseModel):
    id: str
    jobId: str
    model: str
    status: Literal["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]
    progress: int | None = Field(None, ge=0, le=100)
    result: JobResult | None = None
    error: str | None = None
    creditCost: int
    webhookStatus: str | None = None
    createdAt: datetime
    completedAt: datetime | None = None
    input: dict[str, Any]
    expired: bool = Field(..., description="The result link has expired (fetch the job again).")


class JobList(BaseModel):
    jobs: list[Job]
    nextCursor: str | None = None
    hasMore: bool


def _to_request(
    body: GenerateVideo, catalog: Catalog, base_url: str, idempotency_key: str | None
) -> GenerationRequest:
    spec = catalog.get(body.model, dialect=DIALECT.name)
    events = body.webhookEvents
    params = body.runwayParams
    return GenerationRequest(
        model=spec.id,
        prompt=body.prompt,
        first_image=ImageRef(url=params.image) if params.image else None,
        aspect_ratio=params.aspect_ratio,
        duration=params.duration,
        seed=params.seed,
        dialect=DIALECT.name,
        webhook_url=body.webhookUrl,
        webhook_events=tuple(dict.fromkeys(EVENTS.get(e.lower(), e) for e in events))
        if events is not None
        else None,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint(DIALECT.name, body.model_dump(exclude_none=True)),
        base_url=base_url,
    )


async def render_job(request: Request, service: Service, generation: Generation) -> Job:
    video = await service.links.file_url(generation, public_base_url(request))
    thumbnail = await service.links.file_url(generation, public_base_url(request), True)
    failure = generation.failure
    return Job(
        id=generation.id,
        jobId=generation.id,
        model=service.catalog.name_in(generation.model, DIALECT.name),
        status=STATUS_WORDS[generation.status],
        progress=round(generation.progress * 100),
        result=JobResult(
            videoUrl=video[0],
            thumbnailUrl=thumbnail[0] if thumbnail else None,
            duration=generation.video.duration if generation.video else None,
        )
        if video
        else None,
        error=failure.message if failure else None,
        creditCost=generation.credits_charged,
        createdAt=generation.created_at,
        completedAt=generation.finished_at if generation.status.is_final else None,
        input={
            "prompt": generation.prompt,
            "image": generation.facts.sources.get("first"),
            "duration": generation.duration,
            "aspect_ratio": generation.aspect_ratio,
            "seed": generation.seed,
        },
        expired=False,  # links are re-signed on every read; the video itself never expires
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Validation failed: `details` maps each field to its messages."},
    401: {"description": "Missing or invalid API key."},
    402: {"description": "Insufficient credits."},
    403: {"description": "The key's monthly credit limit is reached."},
    404: {"description": "No such job for this key."},
    409: {"description": "Idempotency-Key reused with another request."},
    413: {"description": "Body too large."},
    429: {"description": "Too many requests."},
}
JobId = Annotated[str, Path(max_length=100)]


@router.post(
    "/v2/videos/generate",
    status_code=202,
    response_model=Job | JobAccepted,
    responses=ERRORS,
    summary="Generate a video from an image and a prompt",
)
async def generate(
    request: Request,
    response: Response,
    body: GenerateVideo,
    key: CurrentKey,
    service: ServiceDep,
    options: CreateOptions,
    idempotency_key: IdempotencyKey = None,
) -> Job | JobAccepted:
    submission = await service.generations.submit(
        key,
        options.apply(
            _to_request(body, service.catalog, public_base_url(request), idempotency_key)
        ),
    )
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    generation = await options.hold(service, key, submission.generation, response)
    if options.waited:
        return await render_job(request, service, generation)  # the job, as a read shows it
    return JobAccepted(jobId=generation.id, status=STATUS_WORDS[generation.status])


@router.get("/v2/jobs/{job_id}", response_model=Job, responses=ERRORS, summary="Get a job")
async def get_job(request: Request, job_id: JobId, key: CurrentKey, service: ServiceDep) -> Job:
    return await render_job(request, service, await service.generations.get(key, job_id))


@router.get("/v2/jobs", response_model=JobList, responses=ERRORS, summary="List jobs, newest first")
async def list_jobs(
    request: Request,
    key: CurrentKey,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[
        Literal["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"] | None, Query()
    ] = None,
) -> JobList:
    statuses = [s for s, word in STATUS_WORDS.items() if word == status] if status else None
    page, more = await service.generations.list(key, limit=limit, after=cursor, statuses=statuses)
    jobs = [await render_job(request, service, g) for g in page]
    return JobList(jobs=jobs, hasMore=more, nextCursor=page[-1].id if more and page else None)


@router.post(
    "/v2/jobs/{job_id}/cancel", response_model=Job, responses=ERRORS, summary="Cancel a job"
)
async def cancel_job(request: Request, job_id: JobId, key: CurrentKey, service: ServiceDep) -> Job:
    return await render_job(request, service, await service.generations.cancel(key, job_id))
