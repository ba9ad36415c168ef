"""The canonical types every dialect translates to and from.

A dialect turns its body into a ``GenerationRequest`` (images still as references), the service
validates and prices it into a stored job, and every read comes back as a ``Generation``, which
each dialect renders in its own shape. No HTTP and no SQL here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from vidgen.core.facts import JobFacts

__all__ = [
    "FINAL_STATUSES",
    "CapturedImage",
    "CapturedMedia",
    "CapturedVideo",
    "Generation",
    "GenerationError",
    "GenerationRequest",
    "ImageRef",
    "Keyframe",
    "Kind",
    "MediaRef",
    "Status",
    "VideoInfo",
    "VideoOutput",
]


class Kind(StrEnum):
    """What a request asks a model to do. A model states the kinds it takes (catalog), and a
    request is of exactly one: the dialect's endpoint says which, or the inputs do (a first
    image makes image to video, a prompt alone text to video)."""

    TEXT_TO_VIDEO = "text_to_video"
    IMAGE_TO_VIDEO = "image_to_video"  # a first frame, maybe a last one, maybe references
    VIDEO_TO_VIDEO = "video_to_video"  # an input video restyled or edited (Runway's aleph2)
    CHARACTER_PERFORMANCE = "character_performance"  # a character driven by a performance
    UPSCALE = "upscale"  # an input video at a higher resolution
    FRAME_RATE = "frame_rate"  # an input video at a higher frame rate


class Status(StrEnum):
    """Canonical job states: queued → generating → completed | failed | cancelled."""

    QUEUED = "queued"
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_unsuccessful(self) -> bool:
        """Ended without a video: failed or cancelled."""
        return self in UNSUCCESSFUL_STATUSES


FINAL_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
UNSUCCESSFUL_STATUSES = frozenset({Status.FAILED, Status.CANCELLED})


@dataclass(frozen=True)
class ImageRef:
    """An image as the client gave it: an https URL, a data URI, or raw bytes (multipart)."""

    url: str | None = None
    data: bytes | None = None
    filename: str | None = None

    def describe(self) -> str:
        if self.url is not None:
            return "data URI" if self.url.startswith("data:") else self.url
        return self.filename or "uploaded file"


#: An input of any kind as the client gave it (the same three forms as an image).
MediaRef = ImageRef


@dataclass(frozen=True)
class Keyframe:
    """An image that a video-to-video edit should match at a moment of the input video: at
    ``seconds`` from its start, or at ``at`` (0…1) of its length. ``range`` is Runway's edit
    window, whole seconds ``(start, end)`` with the end excluded: the edit applies only there."""

    image: ImageRef
    seconds: float | None = None
    at: float | None = None
    range: tuple[int, int] | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """What a client asked for, before validation. Field names here are the canonical ones
    that ``FieldError.field`` uses; each dialect maps them back to its own names."""

    model: str
    prompt: str = ""
    first_image: ImageRef | None = None
    last_image: ImageRef | None = None
    aspect_ratio: str | None = None  # None: detect from the first image
    duration: int | None = None  # None: the model's default
    seed: int | None = None  # None: random, and recorded on the job
    dialect: str = "aimlapi"
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] | None = None  # None: the final events
    idempotency_key: str | None = None
    #: The ``Cancel-After`` header as sent (``core.deadlines``); None: no deadline.
    cancel_after: str | None = None
    fingerprint: str | None = None  # the dialect's digest of the request, for idempotency
    base_url: str | None = None  # the URL the request came in on (links in webhook payloads)
    #: None: from the inputs (a first image: image to video; none: text to video).
    kind: Kind | None = None
    references: tuple[ImageRef, ...] = ()  # images the model should keep consistent with
    video: MediaRef | None = None  # the input video of video to video, upscale, frame rate
    character: MediaRef | None = None  # character performance: an image or a video of them
    performance: MediaRef | None = None  # character performance: the video that drives them
    keyframes: tuple[Keyframe, ...] = ()
    #: The model's own fields (``audio``, ``negative_prompt``, ``resolution``…), canonical
    #: names, checked against the model's ``options`` in the catalog.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Top-level fields the dialect has no name for, as sent (the client's own names and
    #: values). The service decides (``core.passthrough``): a model only the aimlapi upstream
    #: knows carries them upstream as options; any other model refuses each with a 400.
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def resolved_kind(self) -> Kind:
        if self.kind is not None:
            return self.kind
        return Kind.IMAGE_TO_VIDEO if self.first_image is not None else Kind.TEXT_TO_VIDEO


@dataclass(frozen=True)
class CapturedImage:
    """An input image's bytes, fetched and verified at submit time and stored with the job, so
    a URL that changes later cannot change the job."""

    data: bytes
    media_type: str  # image/png, image/jpeg or image/webp
    width: int
    height: int
    sha256: str


@dataclass(frozen=True)
class CapturedVideo:
    """An input video's bytes, fetched, probed and verified at submit time (``media.capture``),
    and stored with the job like an image."""

    data: bytes
    media_type: str  # video/mp4, video/quicktime or video/webm
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float  # seconds
    sha256: str


CapturedMedia = CapturedImage | CapturedVideo


@dataclass(frozen=True)
class VideoOutput:
    """The stored result of a completed job."""

    key: str  # storage key, e.g. "videos/<id>.mp4"
    media_type: str
    size_bytes: int
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    thumbnail_key: str | None = None  # a JPEG of the middle frame


@dataclass(frozen=True)
class GenerationError:
    name: str
    message: str


@dataclass(frozen=True)
class Generation:
    """One generation as every dialect reads it."""

    id: str
    key_id: str
    model: str
    engine: str
    status: Status
    progress: float
    prompt: str
    aspect_ratio: str
    width: int
    height: int
    duration: int
    fps: int
    frames: int  # the frame count the engine renders (the model's frame rule, see catalog)
    seed: int
    credits: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: GenerationError | None
    video: VideoOutput | None
    dialect: str
    kind: Kind
    has_first_image: bool
    has_last_image: bool
    #: ``JobFacts`` as stored (``jobs.extras``); parsed on first use (``facts``), since most
    #: reads (polls) never need them.
    stored_facts: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def facts(self) -> JobFacts:
        return JobFacts.from_json(dict(self.stored_facts))

    @property
    def credits_charged(self) -> int:
        """What the generation costs its key: its price (``credits``), taken when it was
        queued, or 0 once it ended failed or cancelled, since the transaction that ends it so
        refunds it (``store.credits``). Every dialect shows this as what was charged."""
        return 0 if self.status.is_unsuccessful else self.credits

    @property
    def failure(self) -> GenerationError | None:
        """Why the generation ended without a video; None while it runs or once it made one."""
        return self.error if self.status.is_unsuccessful else None


@dataclass(frozen=True)
class VideoInfo:
    """What a video file really contains, read back from the file."""

    width: int
    height: int
    fps: float
    frame_count: int
    duration: float  # seconds
    codec: str  # "h264"
    pix_fmt: str  # "yuv420p"
    moov_before_mdat: bool  # True: playback can start before the download ends
    color_primaries: str  # FFmpeg's names: "bt709", "unknown", …
    color_transfer: str
    color_space: str
    color_range: str  # "tv" (limited), "pc" (full) or "unknown"
