"""The Runway dialect: ``/v1/image_to_video`` and ``/v1/tasks/{id}`` as Runway's own API has them
(API-NOTES §3), so the official ``runwayml`` SDK works against vidgen with only its base URL
changed.

Translate in: ``ratio`` is a pixel size (``1280:720``), mapped to the model's aspect ratio;
``promptImage`` is a URL or data URI, or a list of ``{uri, position}`` (``first``/``last``).
Render out: task objects with Runway's status words, ``progress`` while running, ``output`` URLs
when done, ``failure``/``failureCode`` when failed, and the ``estimatedCost``/``cost`` fields the
SDK's models expect. Errors: ``{"error": "...", "issues": [...]}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from vidgen.api.deps import CurrentKey, RuntimeDep, public_base_url
from vidgen.api.dialect import Dialect, IdempotencyKey, error_fields, request_fingerprint
from vidgen.core.catalog import Catalog
from vidgen.core.models import Generation, GenerationRequest, ImageRef, Status
from vidgen.errors import FieldError, InvalidRequest, VidgenError
from vidgen.runtime import Runtime

RUNWAY_VERSION = "2024-11-06"
#: Runway's model names → vidgen's catalog ids.
MODELS = {"gen4_turbo": "runway/gen4_turbo", "gen3a_turbo": "gen3a_turbo"}


class RunwayDialect(Dialect):
    name = "runway"
    tag = "runway"
    prefixes = ("/v1/image_to_video", "/v1/tasks")
    field_names = {
        "first_image": "promptImage",
        "last_image": "promptImage",
        "prompt": "promptText",
        "aspect_ratio": "ratio",
        "idempotency_key": "Idempotency-Key",
    }

    def render_error(self, request: Request, error: VidgenError) -> JSONResponse:
        body: dict[str, Any] = {"error": error.message}
        fields = error_fields(self, error)
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
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str = Field(..., description="`gen4_turbo` or `gen3a_turbo`.", examples=["gen4_turbo"])
    promptImage: str | list[PromptImage] = Field(
        ..., description="The first frame (URL or data URI), or frames with positions."
    )
    ratio: str = Field(..., description="Output size, e.g. `1280:720`.", examples=["1280:720"])
    duration: int | None = Field(None, description="Seconds: 5 or 10.")
    promptText: str | None = Field(None, max_length=1000)
    seed: int | None = Field(None, ge=0, le=4_294_967_295)
    contentModeration: dict[str, Any] | None = Field(
        None, description="Accepted for compatibility; vidgen does no moderation of its own."
    )


class TaskCreated(BaseModel):
    id: str


class Cost(BaseModel):
    credits: float


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


def _aspect_ratio(catalog: Catalog, model: str, ratio: str) -> str:
    spec = catalog.get(model)
    width, sep, height = ratio.partition(":")
    for name, size in spec.frame_sizes.items():
        if sep and (width, height) == (str(size[0]), str(size[1])):
            return name
    valid = ", ".join(f"{w}:{h}" for w, h in spec.frame_sizes.values())
    raise InvalidRequest(
        [FieldError("ratio", f"{ratio!r} is not a size of this model; use one of {valid}")]
    )


def _to_request(
    body: ImageToVideo, runtime: Runtime, base_url: str, idempotency_key: str | None
) -> GenerationRequest:
    model = MODELS.get(body.model)
    if model is None:
        raise InvalidRequest.single(
            "model", f"unknown model {body.model!r}; valid models: {', '.join(MODELS)}"
        )
    first, last = _images(body)
    if first is None:
        raise InvalidRequest.single("promptImage", "needs an image at position 'first'")
    return GenerationRequest(
        model=model,
        prompt=body.promptText or "",
        first_image=first,
        last_image=last,
        aspect_ratio=_aspect_ratio(runtime.catalog, model, body.ratio),
        duration=body.duration,
        seed=body.seed,
        dialect=DIALECT.name,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint(DIALECT.name, body.model_dump(exclude_none=True)),
        extras={"base_url": base_url},
    )


async def render_task(
    request: Request, runtime: Runtime, generation: Generation, *, throttled: bool
) -> Task:
    status = generation.status
    task = Task(id=generation.id, createdAt=generation.created_at, status="PENDING")
    if status is Status.QUEUED:
        task.status = "THROTTLED" if throttled else "PENDING"
        task.estimatedCost = Cost(credits=generation.credits)
    elif status is Status.GENERATING:
        task.status, task.progress = "RUNNING", round(generation.progress, 4)
        task.estimatedCost = Cost(credits=generation.credits)
    elif status is Status.COMPLETED:
        link = await runtime.file_url(generation, public_base_url(request))
        task.status, task.output, task.cost = (
            "SUCCEEDED",
            [link[0]] if link else [],
            Cost(credits=generation.credits),
        )
    elif status is Status.FAILED:
        error = generation.error
        task.status, task.cost = "FAILED", Cost(credits=0)
        task.failure = error.message if error else "The generation failed."
        task.failureCode = error.name if error else "INTERNAL"
    else:
        task.status, task.cost = "CANCELLED", Cost(credits=0)
    return task


RunwayVersion = Annotated[
    str | None,
    Header(alias="X-Runway-Version", description=f"API version; vidgen speaks `{RUNWAY_VERSION}`."),
]
TaskId = Annotated[str, Path(max_length=100, description="The task id the create call returned.")]


def _check_version(version: str | None) -> None:
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


@router.post(
    "/v1/image_to_video",
    response_model=TaskCreated,
    responses=ERRORS,
    summary="Start an image-to-video task",
)
async def image_to_video(
    request: Request,
    response: Response,
    body: ImageToVideo,
    key: CurrentKey,
    runtime: RuntimeDep,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskCreated:
    _check_version(version)
    submission = await runtime.service.submit(
        key, _to_request(body, runtime, public_base_url(request), idempotency_key)
    )
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return TaskCreated(id=submission.generation.id)


@router.get("/v1/tasks/{task_id}", response_model=Task, responses=ERRORS, summary="Get a task")
async def get_task(
    request: Request,
    task_id: TaskId,
    key: CurrentKey,
    runtime: RuntimeDep,
    version: RunwayVersion = None,
) -> Task:
    _check_version(version)
    generation = await runtime.service.get(key, task_id)
    throttled = await runtime.service.is_throttled(key, generation)
    return await render_task(request, runtime, generation, throttled=throttled)


@router.delete(
    "/v1/tasks/{task_id}",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    summary="Cancel a pending or running task, or delete a finished one",
)
async def delete_task(
    task_id: TaskId, key: CurrentKey, runtime: RuntimeDep, version: RunwayVersion = None
) -> Response:
    _check_version(version)
    await runtime.service.delete(key, task_id)
    return Response(status_code=204)
