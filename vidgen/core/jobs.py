"""A job's life as the core sees it, whatever stores it: what is stored (``NewJob``, under an
optional ``IdempotencyClaim``), what a worker claims (``ClaimedJob``) and hears back from its
heartbeat, and how its attempt ends (``Ending``). The repository port (``core.ports``) speaks in
these types; the SQL store and the in-memory one both implement it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from vidgen.core.facts import ImageFacts, JobFacts, VideoFacts
from vidgen.core.models import CapturedImage, CapturedMedia, CapturedVideo, Generation, Kind

__all__ = [
    "INPUT_POSITIONS",
    "RECENT_RUNS",
    "ClaimedJob",
    "Ending",
    "Heartbeat",
    "IdempotencyClaim",
    "IdempotencyRace",
    "IdempotentMatch",
    "NewJob",
    "QueuePlace",
    "ReapResult",
    "UnknownCursor",
    "keyframe_position",
    "mean_seconds",
    "reference_position",
]


def mean_seconds(durations: Iterable[timedelta]) -> float | None:
    """The mean of some run durations in seconds; None for none."""
    seconds = [d.total_seconds() for d in durations]
    return sum(seconds) / len(seconds) if seconds else None


def reference_position(index: int) -> str:
    return f"ref{index}"


def keyframe_position(index: int) -> str:
    return f"key{index}"


#: Where each input of a job is kept (``job_inputs.position``): the first and last frame,
#: reference images ``ref0``…, keyframes ``key0``…, the input ``video``, the ``character``
#: (an image or a video) and the ``performance`` that drives it.
INPUT_POSITIONS = ("first", "last", "video", "character", "performance")


@dataclass(frozen=True)
class NewJob:
    """A validated, priced job, ready to be stored."""

    id: str
    key_id: str
    model: str
    engine: str
    dialect: str
    prompt: str
    aspect_ratio: str
    width: int
    height: int
    duration: int
    fps: int
    frames: int
    seed: int
    credits: int
    max_attempts: int
    first_image: CapturedImage | None
    last_image: CapturedImage | None
    priority: int = 0
    facts: JobFacts = field(default_factory=JobFacts)
    kind: Kind = Kind.IMAGE_TO_VIDEO
    #: Inputs beyond the first and last frame, by position (``INPUT_POSITIONS``).
    other_inputs: Mapping[str, CapturedMedia] = field(default_factory=dict)
    #: Cancel-After: the store sets the deadline this long after it stores the job (on its
    #: own clock); not ended by then, the job ends cancelled, refunded (``DeadlineExceeded``).
    cancel_after: timedelta | None = None

    def stored_facts(self) -> JobFacts:
        """The job's facts as stored: what the request said, and the facts of the inputs
        stored with it (so the two always agree, whatever store keeps them)."""
        images: dict[str, ImageFacts] = {}
        videos: dict[str, VideoFacts] = {}
        for position, item in self.inputs.items():
            if isinstance(item, CapturedVideo):
                videos[position] = VideoFacts(
                    media_type=item.media_type,
                    width=item.width,
                    height=item.height,
                    fps=item.fps,
                    frame_count=item.frame_count,
                    duration=item.duration,
                    sha256=item.sha256,
                )
            else:
                images[position] = ImageFacts(
                    media_type=item.media_type,
                    width=item.width,
                    height=item.height,
                    sha256=item.sha256,
                )
        return self.facts.model_copy(update={"images": images, "videos": videos})

    @property
    def inputs(self) -> dict[str, CapturedMedia]:
        """Every input by position, the first and last frame included."""
        frames = {"first": self.first_image, "last": self.last_image}
        return {pos: item for pos, item in frames.items() if item is not None} | dict(
            self.other_inputs
        )


@dataclass(frozen=True)
class IdempotencyClaim:
    """Reserve ``key`` for this job: the same key and fingerprint replay it for ``ttl``."""

    key: str
    fingerprint: str
    ttl: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class IdempotentMatch:
    job_id: str
    fingerprint: str


class IdempotencyRace(Exception):
    """Another request stored a job under the same Idempotency-Key first; nothing was stored."""


class UnknownCursor(Exception):
    """A list's ``after`` is not the id of one of the key's generations."""


@dataclass(frozen=True)
class ClaimedJob:
    generation: Generation
    attempt: int
    max_attempts: int
    engine_state: dict[str, Any]
    lease_expires_at: datetime
    #: The job's input images when the claim already knows them ({} for a job that has
    #: none); None: read them with ``load_inputs``.
    inputs: dict[str, CapturedMedia] | None = None


class Ending(StrEnum):
    """How a worker's attempt to end a job came out."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # a cancel was asked for first: ended cancelled, refunded
    RETRIED = "retried"
    LOST = "lost"  # the lease is no longer this worker's: nothing was written


@dataclass(frozen=True)
class Heartbeat:
    owned: bool  # False: the lease was lost (expired and taken over, or the job ended)
    cancel_requested: bool
    #: How many provider webhooks arrived for the job so far (``JobQueue.poke``): a rise since
    #: the last heartbeat wakes the engine's poll.
    pokes: int = 0


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued job stands, and what its estimate is measured from."""

    #: 1: the next job a worker claims (claim order: priority, turn, age).
    position: int
    #: Mean seconds from start to completion of the model's latest completed jobs (at most
    #: ``RECENT_RUNS``); None while none has completed.
    mean_run_seconds: float | None
    #: Jobs running now, of every model: how many run side by side.
    running: int


#: How many of a model's latest completions its queue estimates are measured from.
RECENT_RUNS = 20


@dataclass(frozen=True)
class ReapResult:
    requeued: list[str]
    failed: list[str]
