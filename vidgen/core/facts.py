"""What a job remembers about its request beyond its columns: ``JobFacts``, stored as JSON in
``jobs.extras`` and versioned, so that a later change of form is a migration, never a guess.

Written once, when the job is stored (``service.generations``); read by the worker (the
request id for its logs, whether the job has input images to load), the webhook outbox (where
to deliver, which events), the webhook dispatcher (the base URL for links) and the dialects
(where an image came from, to echo back).

Version history (``v``):

1. 2026-12: ``request_id``, ``base_url``, ``sources``, ``images``, ``webhook``. Rows written
   before versions existed are rewritten to it by migration 0008. Later the same month it
   gained ``videos``, ``keyframes`` and ``options``, all optional (absent: none), and a
   keyframe its optional ``range``, so every v1 row still reads as it did.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FACTS_VERSION",
    "ImageFacts",
    "JobFacts",
    "KeyframeFacts",
    "Position",
    "VideoFacts",
    "WebhookSubscription",
]

FACTS_VERSION: Literal[1] = 1
#: Which frame an input image conditions.
Position = Literal["first", "last"]


class _Frozen(BaseModel):
    # Unknown keys are an error: a row of a later version must not be read as this one.
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImageFacts(_Frozen):
    """An input image as it was verified at submit (its bytes are in ``job_inputs``)."""

    media_type: str
    width: int
    height: int
    sha256: str


class WebhookSubscription(_Frozen):
    url: str
    events: tuple[str, ...]

    def wants(self, event: str) -> bool:
        return event in self.events


class KeyframeFacts(_Frozen):
    """Where a keyframe image (stored at ``key<n>``) sits in the input video."""

    seconds: float | None = None
    at: float | None = None
    #: The edit window, whole seconds ``(start, end)``; None: the whole video.
    range: tuple[int, int] | None = None


class VideoFacts(_Frozen):
    """An input video as it was probed at submit (its bytes are in ``job_inputs``)."""

    media_type: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    sha256: str


class JobFacts(_Frozen):
    v: Literal[1] = FACTS_VERSION
    #: The request that created the job, so that the worker's log lines join the API's.
    request_id: str | None = None
    #: The URL the create came in on: links in webhook payloads point there when
    #: ``VIDGEN_PUBLIC_URL`` is not set.
    base_url: str | None = None
    #: Where each image came from, for echoing back ("data URI" rather than its bytes).
    sources: dict[Position, str] = Field(default_factory=dict)
    #: Input images by position: ``first``, ``last``, ``ref0``…, ``key0``…, ``character``.
    images: dict[str, ImageFacts] = Field(default_factory=dict)
    webhook: WebhookSubscription | None = None
    #: Input videos by position: ``video``, ``character``, ``performance``.
    videos: dict[str, VideoFacts] = Field(default_factory=dict)
    keyframes: tuple[KeyframeFacts, ...] = ()
    #: The model's own fields as the request set them (canonical names, checked).
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def has_inputs(self) -> bool:
        return bool(self.images or self.videos)

    def wants(self, event: str) -> bool:
        """Whether the job's webhook subscribed to ``event``."""
        return self.webhook is not None and self.webhook.wants(event)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return self.model_dump(mode="json", exclude_defaults=False)

    @classmethod
    def from_json(cls, stored: dict[str, Any] | None) -> JobFacts:
        return cls.model_validate(stored or {})
