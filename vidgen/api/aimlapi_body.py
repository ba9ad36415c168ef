"""The aimlapi dialect's create body (``POST /v2/video/generations``) and its translation into a
``GenerationRequest``: the routes, the answers and the error shape are ``api.aimlapi``'s."""

from __future__ import annotations

import re
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vidgen.api.dialect import request_fingerprint
from vidgen.core.catalog import ModelSpec
from vidgen.core.models import GenerationRequest, ImageRef, Kind, MediaRef
from vidgen.errors import FieldError, InvalidRequest

__all__ = ["NAME", "OPTION_FIELDS", "CreateGeneration"]

#: The dialect's name, as requests made through it record it.
NAME: Final = "aimlapi"
_PIXELS = re.compile(r"(\d{1,5}):(\d{1,5})")


class ReferenceImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["image"]
    url: str = Field(..., description="An https URL or a data URI.")


class CharacterInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["image", "video"]
    url: str = Field(..., description="An https URL or a data URI.")


class PerformanceVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["video"]
    url: str = Field(..., description="An https URL or a data URI.")


#: The body's fields that are a model's own options (canonical names are aimlapi's own), checked
#: by the service against the model's ``options``: one a model lacks is a 400 naming it.
OPTION_FIELDS = (
    "generate_audio",
    "negative_prompt",
    "resolution",
    "cfg_scale",
    "body_control",
    "expression_intensity",
)


class CreateGeneration(BaseModel):
    """Body of a create call. A field this dialect does not name is handed to the service as
    it was sent (``extras``), which refuses it with a 400 naming it (a typo is an error, not
    ignored), unless the model is one only the upstream knows: then it goes upstream as sent."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "description": "Fields not listed here are refused (400 naming the field), except "
            "for a model only the `aimlapi` engine's upstream knows (`passthrough` in "
            "`/v1/models`): its own fields go to the upstream as sent."
        },
    )

    model: str = Field(
        ...,
        description="A model id of `/v1/models` (or of aimlapi's `/models`), e.g. "
        "`runway/gen4_turbo`, `runway/gen4.5`, `google/veo3.1`.",
        examples=["runway/gen4_turbo"],
    )
    prompt: str | None = Field(
        None, max_length=1000, description="What should happen in the video."
    )
    # Optional here because whether a model needs it is the model's rule (the catalog's
    # `requires_image`, the same in every dialect): without one, a prompt alone is text to video.
    image_url: str | None = Field(
        None,
        description="First frame: an https URL or a data URI (png, jpeg, webp). Required by "
        "every model that makes video from an image (`requires_image` in `/v1/models`): "
        "`runway/gen4_turbo` and `gen3a_turbo` included.",
    )
    tail_image_url: str | None = Field(None, description="Last frame: an https URL or a data URI.")
    last_image_url: str | None = Field(None, description="Older name of `tail_image_url`.")
    aspect_ratio: str | None = Field(
        None,
        description="`16:9` `9:16` `4:3` `3:4` `1:1` `21:9` (gen4_turbo) or `16:9` `9:16` "
        "(gen3a_turbo). Detected from the image when absent.",
    )
    ratio: str | None = Field(None, description="Older name of `aspect_ratio`.")
    duration: int | None = Field(
        None,
        description="Whole seconds: 2 to 10 for gen4_turbo, 5 or 10 for gen3a_turbo (default 5).",
        examples=[5],
    )
    seed: int | None = Field(None, description="0 … 4294967295; random when absent.")
    video_url: str | None = Field(
        None,
        description="Video to video (`runway/gen4_aleph`), or the video an upscale or frame-rate "
        "model (`magnific/video_upscaler_creative`) works on: an https URL or a "
        "data URI (mp4, mov, webm).",
    )
    references: list[ReferenceImage] | None = Field(
        None,
        max_length=100,
        description='Reference images, `{"type": "image", "url": …}`, up to the model\'s '
        "`max_references`.",
    )
    frame_size: str | None = Field(
        None,
        description="The output size in pixels, e.g. `1280:720` (`runway/gen4_aleph`, "
        "`runway/act_two`); another name of `aspect_ratio` for those models.",
    )
    character: CharacterInput | None = Field(
        None,
        description="Character performance (`runway/act_two`): the character, an image or a video.",
    )
    reference: PerformanceVideo | None = Field(
        None, description="Character performance: the video whose performance drives the character."
    )
    body_control: bool | None = Field(None, description="`runway/act_two`: move the body too.")
    expression_intensity: int | None = Field(None, description="`runway/act_two`: 1 to 5.")
    generate_audio: bool | None = Field(None, description="Veo 3.1, Kling: make sound.")
    negative_prompt: str | None = Field(None, description="What should not appear.")
    resolution: str | None = Field(None, description="Veo 3.1: `720p` or `1080p`.")
    cfg_scale: float | None = Field(None, description="Kling: 0 to 1.")
    webhook_url: str | None = Field(
        None,
        description="vidgen extension: an https URL that receives signed events for this "
        "generation (see the README, Webhooks).",
    )
    webhook_events: (
        list[Literal["started", "progress", "completed", "failed", "cancelled"]] | None
    ) = Field(None, description="vidgen extension: which events to send (default: the final ones).")

    @model_validator(mode="after")
    def _no_conflicting_aliases(self) -> CreateGeneration:
        for name, alias in (("aspect_ratio", "ratio"), ("tail_image_url", "last_image_url")):
            a, b = getattr(self, name), getattr(self, alias)
            if a is not None and b is not None and a != b:
                raise ValueError(f"{name} and {alias} name the same field; send only one")
        return self

    def kind(self) -> Kind | None:
        """The kind the inputs name; None leaves it to the core (an image or a prompt)."""
        if self.video_url is not None:
            return Kind.VIDEO_TO_VIDEO
        if self.character is not None or self.reference is not None:
            return Kind.CHARACTER_PERFORMANCE
        return None

    def to_request(
        self, spec: ModelSpec | None, *, base_url: str, idempotency_key: str | None
    ) -> GenerationRequest:
        tail = self.tail_image_url or self.last_image_url
        kind = self.kind()
        if kind is Kind.VIDEO_TO_VIDEO and spec is not None and spec.only_kind is not None:
            # aimlapi has one field for an input video: for a model that does one thing with
            # it (an upscaler, a frame-rate model) it is that thing's input.
            kind = spec.only_kind
        duration = self.duration
        if kind is not None and spec is not None and duration in spec.durations:
            # aimlapi's gen4_aleph document takes `duration: 5` (its only value); the output
            # follows the input video, so a duration the model allows says nothing more.
            duration = None
        return GenerationRequest(
            model=self.model,
            prompt=self.prompt or "",
            first_image=ImageRef(url=self.image_url) if self.image_url else None,
            last_image=ImageRef(url=tail) if tail else None,
            aspect_ratio=self.aspect_ratio or self.ratio or _frame_ratio(spec, self.frame_size),
            duration=duration,
            seed=self.seed,
            kind=kind,
            video=MediaRef(url=self.video_url) if self.video_url is not None else None,
            # The character's ``type`` is not needed: an image and a video are told apart by
            # their bytes when they are captured.
            character=MediaRef(url=self.character.url) if self.character else None,
            performance=MediaRef(url=self.reference.url) if self.reference else None,
            references=tuple(ImageRef(url=ref.url) for ref in self.references or ()),
            options={
                name: value for name in OPTION_FIELDS if (value := getattr(self, name)) is not None
            },
            dialect=NAME,
            extras=dict(self.model_extra or {}),
            webhook_url=self.webhook_url,
            webhook_events=tuple(self.webhook_events) if self.webhook_events is not None else None,
            idempotency_key=idempotency_key,
            fingerprint=request_fingerprint(NAME, self.model_dump(exclude_none=True)),
            base_url=base_url,
        )


def _frame_ratio(spec: ModelSpec | None, frame_size: str | None) -> str | None:
    """aimlapi's ``frame_size`` (pixels) as the model's aspect ratio, or a 400 naming it."""
    if frame_size is None or spec is None:
        return frame_size
    pixels = _PIXELS.fullmatch(frame_size)
    found = spec.ratio_for_size(int(pixels[1]), int(pixels[2])) if pixels else None
    if found is None:
        valid = ", ".join(f"{w}:{h}" for w, h in spec.frame_sizes.values())
        raise InvalidRequest(
            [
                FieldError.naming(
                    spec.id,
                    "frame_size",
                    "{size!r} is not a size of {model}; use one of {valid}",
                    size=frame_size,
                    valid=valid,
                )
            ]
        )
    return found
