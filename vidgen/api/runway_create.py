"""The Runway dialect's other create endpoints: ``/v1/text_to_video``, ``/v1/video_to_video``,
``/v1/character_performance`` and ``/v1/video_upscale``, with the fields the ``runwayml`` SDK
(5.24) sends, answered as ``/v1/image_to_video`` is (a task id and its cost; then
``/v1/tasks/{id}``). Errors come in Runway's shape through the dialect's routes.

Translate in, nothing more: the kind is the endpoint's (``video_upscale`` is an upscale, or a
frame-rate enhancement for a model that does that); ``videoUri`` (or ``promptVideo``, for the
video-to-video models whose catalog entry names it: ``ModelSpec.video_names``), ``character.uri``
and ``reference.uri`` are the input videos; a model's own fields (``audio``, ``bodyControl``,
``targetFramerate``…), and any field the body does not name that the model's entry lists among
its options (``cfgScale``, ``mode``…), become the request's options under their snake_case
names, and the service checks them against the model (an option the model lacks, or a field
no entry lists, is a 400 naming it as sent). Which
fields a model takes, and what it makes of the inputs, is the catalog's business.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_snake

from vidgen.api.deps import CurrentKey, ServiceDep, public_base_url
from vidgen.api.dialect import IdempotencyKey, request_fingerprint
from vidgen.api.runway import (
    DIALECT,
    ERRORS,
    Cost,
    RunwayVersion,
    TaskCreated,
    aspect_ratio_for,
    check_version,
)
from vidgen.api.runway_fields import ReferenceImage, model_options, reference_refs
from vidgen.core.catalog import Catalog, ModelSpec
from vidgen.core.models import GenerationRequest, ImageRef, Keyframe, Kind, MediaRef
from vidgen.errors import FieldError, InvalidRequest

__all__ = ["router"]

router = APIRouter(tags=["runway"], route_class=DIALECT.route_class())

_URI = Field(..., description="An https URL or a data URI.")


class _Body(BaseModel):
    # Fields not named here are a model's own options, as the SDK types them per model
    # (Hailuo's resolution, Gemini's mode…): ``model_options`` takes those the model's entry
    # lists and refuses the rest naming each.
    model_config = ConfigDict(extra="allow")

    model: str
    seed: int | None = Field(None, ge=0, le=4_294_967_295)
    contentModeration: dict[str, Any] | None = Field(
        None, description="Accepted for compatibility; vidgen does no moderation of its own."
    )

    #: The body's fields that are the model's own options (checked by the service).
    option_fields: ClassVar[tuple[str, ...]] = ()

    def options(self) -> dict[str, Any]:
        return {
            to_snake(name): value
            for name in self.option_fields
            if (value := getattr(self, name)) is not None
        }


class TextToVideo(_Body):
    promptText: str = Field(..., description="What the video shows.")
    ratio: str = Field(..., description="Output size, e.g. `1280:720`.", examples=["1280:720"])
    duration: int | None = None
    audio: bool | None = Field(None, description="veo3.1: generate sound.")
    negativePrompt: str | None = Field(None, description="veo3.1: what should not appear.")
    references: list[ReferenceImage] | str | None = Field(
        None,
        max_length=100,
        description="Reference images (Seedance, Hailuo, Wan, Grok, Gemini, kling_4), up to the "
        "model's limit.",
    )
    option_fields: ClassVar[tuple[str, ...]] = ("audio", "negativePrompt")


class EditRange(BaseModel):
    # snake_case on the wire, unlike the fields around it: runwayml 5.24 sends these keys as
    # they are (its TypedDict gives them no camelCase alias).
    model_config = ConfigDict(extra="forbid")
    start_seconds: int
    end_seconds: int


class KeyframeImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uri: str = _URI
    seconds: float | None = Field(None, description="When, from the input video's start.")
    at: float | None = Field(None, description="When, as a fraction (0…1) of its length.")
    range: EditRange | None = Field(
        None,
        description="The edit window, whole seconds (end excluded), holding the keyframe's "
        "moment; every keyframe sets one or none does. The preview edits the whole video.",
    )


#: The input video's field where the catalog names none for the model (aleph2, gemini, kling_4).
VIDEO_FIELD = "videoUri"
_VIDEO_FIELDS = (VIDEO_FIELD, "promptVideo")


class VideoToVideo(_Body):
    videoUri: str | None = Field(None, description="The input video (aleph2 and most models).")
    promptVideo: str | None = Field(
        None, description="The input video of Kling O3, Hailuo 3 and Seedance."
    )
    promptText: str | None = None
    ratio: str | None = Field(None, description="Output size; default: the input's shape.")
    duration: int | None = Field(
        None,
        description="Typed by the SDK for Hailuo 3 and Seedance; refused: vidgen's output is as "
        "long as the input video.",
    )
    keyframes: list[KeyframeImage] = Field(default_factory=list, max_length=100)
    # A bare string is Kling O3's one-reference form in the SDK's types.
    references: list[ReferenceImage] | str = Field(
        default_factory=list,
        max_length=100,
        description="Reference images, up to the model's limit.",
    )

    def input_video(self, spec: ModelSpec) -> tuple[str, str | None]:
        """The field the model takes its video in, and the video sent there. A video under
        the other name is refused naming it: Runway's own schema has no such field there."""
        wanted = spec.video_name_in(DIALECT.name, VIDEO_FIELD)
        wrong = [name for name in _VIDEO_FIELDS if name != wanted and getattr(self, name)]
        if wrong:
            raise InvalidRequest(
                [
                    FieldError(name, f"{self.model} takes its input video as {wanted}")
                    for name in wrong
                ]
            )
        return wanted, getattr(self, wanted)


class CharacterInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["image", "video"]
    uri: str = _URI


class PerformanceVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["video"]
    uri: str = _URI


class CharacterPerformance(_Body):
    character: CharacterInput
    reference: PerformanceVideo
    ratio: str | None = Field(None, description="Output size; default: the character's shape.")
    bodyControl: bool | None = None
    expressionIntensity: int | None = None
    option_fields: ClassVar[tuple[str, ...]] = ("bodyControl", "expressionIntensity")


class VideoUpscale(_Body):
    videoUri: str = _URI
    resolution: str | None = None
    creativity: int | None = None
    flavor: str | None = None
    fpsBoost: bool | None = None
    sharpen: int | None = None
    smartGrain: int | None = None
    targetFramerate: str | None = None
    option_fields: ClassVar[tuple[str, ...]] = (
        "resolution",
        "creativity",
        "flavor",
        "fpsBoost",
        "sharpen",
        "smartGrain",
        "targetFramerate",
    )


def _request(
    endpoint: str,
    body: _Body,
    spec: ModelSpec,
    request: Request,
    idempotency_key: str | None,
    **fields: Any,
) -> GenerationRequest:
    payload = {"endpoint": endpoint, **body.model_dump(exclude_none=True)}
    return GenerationRequest(
        model=spec.id,
        seed=body.seed,
        dialect=DIALECT.name,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint(DIALECT.name, payload),
        base_url=public_base_url(request),
        options=model_options(spec, body.options(), body.model_extra),
        **fields,
    )


def _optional_ratio(spec: ModelSpec, ratio: str | None) -> str | None:
    return None if ratio is None else aspect_ratio_for(spec, ratio)


def _spec(catalog: Catalog, body: _Body) -> ModelSpec:
    return catalog.get(body.model, dialect=DIALECT.name)


async def _create(
    service: ServiceDep,
    key: CurrentKey,
    response: Response,
    canonical: GenerationRequest,
) -> TaskCreated:
    submission = await service.generations.submit(key, canonical)
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    generation = submission.generation
    return TaskCreated(id=generation.id, estimatedCost=Cost(credits=generation.credits))


@router.post(
    "/v1/text_to_video",
    response_model=TaskCreated,
    responses=ERRORS,
    summary="Start a text-to-video task",
)
async def text_to_video(
    request: Request,
    response: Response,
    body: TextToVideo,
    key: CurrentKey,
    service: ServiceDep,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskCreated:
    check_version(version)
    spec = _spec(service.catalog, body)
    canonical = _request(
        "text_to_video",
        body,
        spec,
        request,
        idempotency_key,
        kind=Kind.TEXT_TO_VIDEO,
        prompt=body.promptText,
        aspect_ratio=aspect_ratio_for(spec, body.ratio),
        duration=body.duration,
        references=reference_refs(body.references),
    )
    return await _create(service, key, response, canonical)


@router.post(
    "/v1/video_to_video",
    response_model=TaskCreated,
    responses=ERRORS,
    summary="Start a video-to-video task",
)
async def video_to_video(
    request: Request,
    response: Response,
    body: VideoToVideo,
    key: CurrentKey,
    service: ServiceDep,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskCreated:
    check_version(version)
    spec = _spec(service.catalog, body)
    field, video = body.input_video(spec)
    canonical = _request(
        "video_to_video",
        body,
        spec,
        request,
        idempotency_key,
        kind=Kind.VIDEO_TO_VIDEO,
        prompt=body.promptText or "",
        video=None if video is None else MediaRef(url=video),
        aspect_ratio=_optional_ratio(spec, body.ratio),
        duration=body.duration,
        references=reference_refs(body.references),
        keyframes=tuple(
            Keyframe(
                ImageRef(url=mark.uri),
                seconds=mark.seconds,
                at=mark.at,
                range=(mark.range.start_seconds, mark.range.end_seconds) if mark.range else None,
            )
            for mark in body.keyframes
        ),
    )
    try:
        return await _create(service, key, response, canonical)
    except InvalidRequest as refused:
        # The service names the input video ``video``, which this dialect spells videoUri;
        # for a model that takes promptVideo, name the field the client filled in.
        raise _renamed(refused, field) from refused


def _renamed(error: InvalidRequest, video_field: str) -> InvalidRequest:
    if video_field == VIDEO_FIELD:
        return error
    errors = [
        replace(e, field=video_field + e.field.removeprefix("video"))
        if e.field == "video" or e.field.startswith("video.")
        else e
        for e in error.errors
    ]
    return InvalidRequest(errors, message=error.message)


@router.post(
    "/v1/character_performance",
    response_model=TaskCreated,
    responses=ERRORS,
    summary="Start a character-performance task",
)
async def character_performance(
    request: Request,
    response: Response,
    body: CharacterPerformance,
    key: CurrentKey,
    service: ServiceDep,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskCreated:
    check_version(version)
    spec = _spec(service.catalog, body)
    canonical = _request(
        "character_performance",
        body,
        spec,
        request,
        idempotency_key,
        kind=Kind.CHARACTER_PERFORMANCE,
        # The character's ``type`` is not needed: an image and a video are told apart by
        # their bytes when they are captured.
        character=MediaRef(url=body.character.uri),
        performance=MediaRef(url=body.reference.uri),
        aspect_ratio=_optional_ratio(spec, body.ratio),
    )
    return await _create(service, key, response, canonical)


@router.post(
    "/v1/video_upscale",
    response_model=TaskCreated,
    responses=ERRORS,
    summary="Start an upscale or frame-rate task",
)
async def video_upscale(
    request: Request,
    response: Response,
    body: VideoUpscale,
    key: CurrentKey,
    service: ServiceDep,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskCreated:
    check_version(version)
    spec = _spec(service.catalog, body)
    # One endpoint for both: Runway's enhance_frame_rate is an "upscaler" of the frame rate.
    kind = Kind.FRAME_RATE if Kind.FRAME_RATE in spec.kinds else Kind.UPSCALE
    canonical = _request(
        "video_upscale",
        body,
        spec,
        request,
        idempotency_key,
        kind=kind,
        video=MediaRef(url=body.videoUri),
    )
    return await _create(service, key, response, canonical)
