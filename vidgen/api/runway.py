"""The Runway dialect: ``/v1/image_to_video`` and ``/v1/tasks/{id}`` as Runway's own API has them
(API-NOTES §3), so the official ``runwayml`` SDK works against vidgen with only its base URL
changed.

Translate in: ``ratio`` is a pixel size (``1280:720``), mapped to the model's aspect ratio;
``promptImage`` is a URL or data URI, or a list of ``{uri, position}`` (``first``/``last``).
Render out: task objects with Runway's status words, ``progress`` while running, ``output`` URLs
when done, ``failure``/``failureCode`` when failed, and the ``estimatedCost``/``cost`` fields the
SDK's models expect. ``/v1/organization`` reports the key as Runway reports an organisation: its
balance, its limits and its usage. Errors: ``{"error": "...", "issues": [...]}``, for every
unknown ``/v1`` route too.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from vidgen.api.deps import CurrentKey, ServiceDep, public_base_url
from vidgen.api.dialect import Dialect, IdempotencyKey, error_fields, request_fingerprint
from vidgen.api.preferences import CreateOptions
from vidgen.api.runway_fields import ReferenceImage, model_options, reference_refs
from vidgen.core.catalog import Catalog, ModelSpec
from vidgen.core.models import Generation, GenerationRequest, ImageRef, Kind, Status
from vidgen.errors import FieldError, InvalidRequest, VidgenError
from vidgen.service import Service

__all__ = [
    "DIALECT",
    "ERRORS",
    "Cost",
    "RunwayVersion",
    "TaskCreated",
    "aspect_ratio_for",
    "check_version",
    "router",
]

RUNWAY_VERSION = "2024-11-06"
#: ``ratio`` as Runway writes it, ``WIDTH:HEIGHT`` in pixels, each as a size is written: ASCII
#: digits without a leading zero (`` 1280:720`` and ``01280:720`` name no size), and at most 5
#: of them, since ``int`` refuses (raises on) a string of thousands of digits.
_PIXELS = re.compile(r"([1-9][0-9]{0,4}):([1-9][0-9]{0,4})")
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
#: ``creditBalance`` (and ``maxMonthlyCreditSpend``) of a key without a limit: Runway's schema
#: has an integer there, never null, and 0 would read as "out of credits". The largest 32-bit
#: integer fits every client's integer type.
UNLIMITED_CREDITS = 2**31 - 1
#: Runway's limits for a usage query.
USAGE_DAYS_DEFAULT = 30
USAGE_DAYS_MAX = 90


class RunwayDialect(Dialect):
    name = "runway"
    tag = "runway"
    # Every /v1 route but OpenAI's /v1/videos and vidgen's own (``api.app.dialect_for_path``).
    prefixes = ("/v1/",)
    field_names = {
        "first_image": "promptImage",
        "last_image": "promptImage",
        "prompt": "promptText",
        "aspect_ratio": "ratio",
        "idempotency_key": "Idempotency-Key",
        "video": "videoUri",
        "performance": "reference",
    }

    def wire_name(self, field: str) -> str:
        """Runway spells every field in lower camel case: a model's options (canonical
        ``expression_intensity``) are ``expressionIntensity`` here."""
        name = super().wire_name(field)
        return ".".join(
            to_camel(part) if _SNAKE.fullmatch(part) else part for part in name.split(".")
        )

    def render_error(self, request: Request, error: VidgenError) -> JSONResponse:
        body: dict[str, Any] = {"error": error.message}
        fields = error_fields(self, request, error)
        if fields:
            body["error"] = "Validation of body failed"
            body["issues"] = [
                {"path": f["field"].split("."), "message": f["message"]} for f in fields
            ]
        return JSONResponse(body, status_code=error.http_status)


DIALECT = RunwayDialect()
router = APIRouter(tags=["runway"], route_class=DIALECT.route_class())


class PromptImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uri: str = Field(..., description="An https URL or a data URI.")
    position: Literal["first", "last"]


class ImageToVideo(BaseModel):
    # promptImage and ratio are required, but checked after the model (``_to_request``): what
    # a model requires depends on the model, so an unknown one is reported as unknown, not as
    # a missing ratio. The document still lists them as required, as Runway's does.
    # Fields not named here are a model's own options, as the SDK types them per model
    # (Kling's cfgScale…): ``model_options`` takes those the model's entry lists.
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"required": ["model", "promptImage", "ratio"]},
    )

    model: str = Field(
        ...,
        description="`gen4_turbo`, `gen3a_turbo`, `gen4.5` or `veo3.1`.",
        examples=["gen4_turbo"],
    )
    promptImage: str | list[PromptImage] | None = Field(
        None, description="The first frame (URL or data URI), or frames with positions."
    )
    ratio: str | None = Field(
        None, description="Output size, e.g. `1280:720`.", examples=["1280:720"]
    )
    duration: int | None = Field(
        None, description="Whole seconds: 2 to 10 for gen4_turbo, 5 or 10 for gen3a_turbo."
    )
    promptText: str | None = Field(None, max_length=1000)
    seed: int | None = Field(None, ge=0, le=4_294_967_295)
    contentModeration: dict[str, Any] | None = Field(
        None, description="Accepted for compatibility; vidgen does no moderation of its own."
    )
    audio: bool | None = Field(None, description="veo3.1: generate sound.")
    negativePrompt: str | None = Field(None, description="veo3.1: what should not appear.")
    references: list[ReferenceImage] | str | None = Field(
        None, max_length=100, description="Reference images (Kling O3), up to the model's limit."
    )


class Cost(BaseModel):
    credits: int  # vidgen's prices are whole credits (Runway's SDK takes an int here)


class TaskCreated(BaseModel):
    id: str
    estimatedCost: Cost = Field(..., description="The credits this task was charged.")


class Task(BaseModel):
    id: str
    createdAt: datetime
    status: Literal["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
    progress: float | None = None
    output: list[str] | None = None
    failure: str | None = None
    failureCode: str | None = None
    estimatedCost: Cost | None = None
    cost: Cost | None = None


def _images(body: ImageToVideo) -> tuple[ImageRef | None, ImageRef | None]:
    if body.promptImage is None:
        return None, None
    if isinstance(body.promptImage, str):
        return ImageRef(url=body.promptImage), None
    by_position: dict[str, ImageRef] = {}
    for item in body.promptImage:
        if item.position in by_position:
            raise InvalidRequest.single(
                "promptImage", f"more than one image at position {item.position!r}"
            )
        by_position[item.position] = ImageRef(url=item.uri)
    return by_position.get("first"), by_position.get("last")


def aspect_ratio_for(spec: ModelSpec, ratio: str | None) -> str:
    """Runway's ``ratio`` (a frame size in pixels) as the model's aspect ratio."""
    if ratio is None:
        raise InvalidRequest.single("ratio", "is required")
    pixels = _PIXELS.fullmatch(ratio)
    found = spec.ratio_for_size(int(pixels[1]), int(pixels[2])) if pixels else None
    if found is None:
        valid = ", ".join(f"{w}:{h}" for w, h in spec.frame_sizes.values())
        raise InvalidRequest(
            [FieldError("ratio", f"{ratio!r} is not a size of this model; use one of {valid}")]
        )
    return found


def _to_request(
    body: ImageToVideo, catalog: Catalog, base_url: str, idempotency_key: str | None
) -> GenerationRequest:
    spec = catalog.get(body.model, dialect=DIALECT.name)
    first, last = _images(body)
    return GenerationRequest(
        model=spec.id,
        prompt=body.promptText or "",
        first_image=first,
        last_image=last,
        kind=Kind.IMAGE_TO_VIDEO,
        references=reference_refs(body.references),
        aspect_ratio=aspect_ratio_for(spec, body.ratio),
        duration=body.duration,
        seed=body.seed,
        dialect=DIALECT.name,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint(DIALECT.name, body.model_dump(exclude_none=True)),
        base_url=base_url,
        # The model's own fields, checked against it by the service (gen4_turbo has none).
        options=model_options(
            spec,
            {
                name: value
                for name, value in (("audio", body.audio), ("negative_prompt", body.negativePrompt))
                if value is not None
            },
            body.model_extra,
        ),
    )


#: Runway's status words; a queued task reads THROTTLED instead while its key runs as many
#: tasks as it may at once.
STATUS_WORDS: dict[Status, Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]] = {
    Status.QUEUED: "PENDING",
    Status.GENERATING: "RUNNING",
    Status.COMPLETED: "SUCCEEDED",
    Status.FAILED: "FAILED",
    Status.CANCELLED: "CANCELLED",
}


async def render_task(
    request: Request, service: Service, generation: Generation, *, throttled: bool
) -> Task:
    status = generation.status
    task = Task(
        id=generation.id,
        createdAt=generation.created_at,
        status="THROTTLED" if throttled and status is Status.QUEUED else STATUS_WORDS[status],
    )
    if status.is_final:
        # Runway's ``cost`` is what the finished task was charged; ``estimatedCost`` before.
        task.cost = Cost(credits=generation.credits_charged)
    else:
        task.estimatedCost = Cost(credits=generation.credits)
    if status is Status.GENERATING:
        task.progress = round(generation.progress, 4)
    elif status is Status.COMPLETED:
        link = await service.links.file_url(generation, public_base_url(request))
        task.output = [link[0]] if link else []
    elif status is Status.FAILED:
        failure = generation.failure
        task.failure = failure.message if failure else "The generation failed."
        task.failureCode = failure.name if failure else "INTERNAL"
    return task


RunwayVersion = Annotated[
    str | None,
    Header(alias="X-Runway-Version", description=f"API version; vidgen speaks `{RUNWAY_VERSION}`."),
]
TaskId = Annotated[str, Path(max_length=100, description="The task id the create call returned.")]


class TierModel(BaseModel):
    maxConcurrentGenerations: int | None = Field(
        ..., description="The key's --max-concurrency (shared by all its models); null: none."
    )
    maxDailyGenerations: int | None = Field(..., description="Always null: vidgen has no cap.")


class Tier(BaseModel):
    maxMonthlyCreditSpend: int
    models: dict[str, TierModel]


class ModelUsage(BaseModel):
    dailyGenerations: int


class OrganizationUsage(BaseModel):
    models: dict[str, ModelUsage]


class Organization(BaseModel):
    creditBalance: int = Field(
        ..., description=f"The key's credits; {UNLIMITED_CREDITS} for a key without a limit."
    )
    tier: Tier
    usage: OrganizationUsage


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    startDate: date | None = Field(None, description="First UTC day (default: 30 days ago).")
    beforeDate: date | None = Field(
        None, description="Day after the last one (default: 30 days after startDate; ≤ 90)."
    )


class UsedCredit(BaseModel):
    amount: int = Field(..., description="Net credits: charges less refunds (may be negative).")
    model: str


class UsageDay(BaseModel):
    date: date
    usedCredits: list[UsedCredit]


class UsageReport(BaseModel):
    models: list[str]
    results: list[UsageDay]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def check_version(version: str | None) -> None:
    if version is None:
        raise InvalidRequest.single(
            "X-Runway-Version", f"header is required (use {RUNWAY_VERSION!r})"
        )
    if version != RUNWAY_VERSION:
        raise InvalidRequest.single(
            "X-Runway-Version", f"{version!r} is not supported; use {RUNWAY_VERSION!r}"
        )


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Validation failed: `issues` names each field."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "Not enough credits."},
    404: {"description": "No such task for this key."},
    409: {"description": "Idempotency-Key reused with another request."},
    429: {"description": "Too many requests."},
}


@router.get(
    "/v1/organization",
    response_model=Organization,
    responses=ERRORS,
    summary="The key's balance, limits and usage, as Runway reports an organization",
)
async def organization(
    key: CurrentKey, service: ServiceDep, version: RunwayVersion = None
) -> Organization:
    check_version(version)
    current = await service.access.current(key)
    now = datetime.now(UTC)
    # Runway's usage of an organization is its own, whatever the key's role.
    counts = await service.usage.jobs_by_model(current, now - timedelta(days=1), now)
    models = service.catalog.named_in(DIALECT.name)
    limit = current.monthly_credit_limit
    return Organization(
        creditBalance=UNLIMITED_CREDITS if current.credits is None else current.credits,
        tier=Tier(
            maxMonthlyCreditSpend=UNLIMITED_CREDITS
            if limit is None
            else min(limit, UNLIMITED_CREDITS),
            models={
                name: TierModel(
                    maxConcurrentGenerations=current.max_concurrency, maxDailyGenerations=None
                )
                for name in models
            },
        ),
        usage=OrganizationUsage(
            models={
                name: ModelUsage(dailyGenerations=counts[spec.id]) for name, spec in models.items()
            }
        ),
    )


@router.post(
    "/v1/organization/usage",
    response_model=UsageReport,
    responses=ERRORS,
    summary="Credits spent per day and model",
    description="From the key's credit ledger, as `GET /v1/usage` sums it: each day's charges "
    "less its refunds, per model. "
    "Only Runway's models are listed (Runway's SDK knows no other names).",
)
async def organization_usage(
    key: CurrentKey,
    service: ServiceDep,
    query: UsageQuery | None = None,
    version: RunwayVersion = None,
) -> UsageReport:
    check_version(version)
    query = query or UsageQuery()
    start = query.startDate or datetime.now(UTC).date() - timedelta(days=USAGE_DAYS_DEFAULT)
    try:
        before = query.beforeDate or start + timedelta(days=USAGE_DAYS_DEFAULT)
    except OverflowError:  # a startDate in the calendar's last 30 days
        raise InvalidRequest.single(
            "startDate", "leaves no room for the default beforeDate; give beforeDate"
        ) from None
    if before <= start:
        raise InvalidRequest.single("beforeDate", "must be after startDate")
    if before - start > timedelta(days=USAGE_DAYS_MAX):
        raise InvalidRequest.single(
            "beforeDate", f"must be at most {USAGE_DAYS_MAX} days after startDate"
        )
    days = await service.usage.net_by_day_and_model(key, _midnight(start), _midnight(before))
    names = {spec.id: name for name, spec in service.catalog.named_in(DIALECT.name).items()}
    results = [
        UsageDay(
            date=day,
            usedCredits=[
                UsedCredit(amount=amount, model=names[model])
                for model, amount in sorted(spent.items())
                if model in names
            ],
        )
        for day, spent in sorted(days.items())
    ]
    results = [day for day in results if day.usedCredits]
    used = sorted({credit.model for day in results for credit in day.usedCredits})
    return UsageReport(models=used, results=results)


@router.post(
    "/v1/image_to_video",
    response_model=Task | TaskCreated,
    responses=ERRORS,
    summary="Start an image-to-video task",
)
async def image_to_video(
    request: Request,
    response: Response,
    body: ImageToVideo,
    key: CurrentKey,
    service: ServiceDep,
    options: CreateOptions,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> Task | TaskCreated:
    check_version(version)
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
        # The task as GET /v1/tasks/{id} shows it: its status and, once it ended, its output.
        throttled = await service.generations.is_throttled(key, generation)
        return await render_task(request, service, generation, throttled=throttled)
    return TaskCreated(id=generation.id, estimatedCost=Cost(credits=generation.credits))


@router.get("/v1/tasks/{task_id}", response_model=Task, responses=ERRORS, summary="Get a task")
async def get_task(
    request: Request,
    task_id: TaskId,
    key: CurrentKey,
    service: ServiceDep,
    version: RunwayVersion = None,
) -> Task:
    check_version(version)
    generation = await service.generations.get(key, task_id)
    throttled = await service.generations.is_throttled(key, generation)
    return await render_task(request, service, generation, throttled=throttled)


@router.delete(
    "/v1/tasks/{task_id}",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    summary="Cancel a pending or running task, or delete a finished one",
)
async def delete_task(
    task_id: TaskId, key: CurrentKey, service: ServiceDep, version: RunwayVersion = None
) -> Response:
    check_version(version)
    await service.generations.delete(key, task_id)
    return Response(status_code=204)
