"""The one interface every engine implements.

An engine turns one validated job into one video file::

    class MyEngine(Engine):
        name = "my-engine"

        async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
            ctx.report_progress(0.5)
            ctx.raise_if_cancelled()
            path = ctx.scratch_dir / "out.mp4"
            ...
            return EngineResult(path=path, width=..., height=..., fps=..., frame_count=...)

Engines never touch SQL or HTTP routing. The worker gives them a context that fetches nothing
(input images were captured at submit time and arrive as bytes), records progress, answers
"was this job cancelled?", persists small engine state (an upstream task id) the moment it is
known, and lends an empty scratch directory for the job's files. When the job settles the
directory is emptied and lent to the worker's next job (creating one per job cost more than a
no-op job's other file work), so nothing left in it outlives the job. Built-in engines register in
``vidgen.engines.registry`` through the same entry-point group (``vidgen.engines``) that plugins
use. The interface lives in the core (the worker and the service depend on it, not on any
engine); ``vidgen.engines.base`` re-exports it for engines and plugins.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vidgen.core.catalog import ModelSpec
from vidgen.core.models import (
    CapturedImage,
    CapturedMedia,
    CapturedVideo,
    Generation,
    GenerationRequest,
    Kind,
    VideoInfo,
)
from vidgen.errors import FieldError, JobCancelled
from vidgen.settings import Settings

__all__ = ["Engine", "EngineContext", "EngineJob", "EngineResult", "engine_job"]


@dataclass(frozen=True)
class EngineJob:
    """Everything an engine needs to render one job, already validated and resolved."""

    id: str
    model: str
    prompt: str
    aspect_ratio: str
    width: int
    height: int
    fps: int
    duration: int
    frame_count: int
    seed: int
    first_image: CapturedImage | None
    last_image: CapturedImage | None
    attempt: int = 1
    state: Mapping[str, Any] = field(default_factory=dict)  # what save_state() stored earlier
    kind: Kind = Kind.IMAGE_TO_VIDEO
    references: tuple[CapturedImage, ...] = ()
    #: Each keyframe: its image, ``seconds`` or ``at``, and its edit window (``Keyframe``).
    keyframes: tuple[
        tuple[CapturedImage, float | None, float | None, tuple[int, int] | None], ...
    ] = ()
    video: CapturedVideo | None = None  # video to video, upscale, frame rate
    character: CapturedMedia | None = None  # character performance: an image or a video
    performance: CapturedVideo | None = None  # character performance: what drives it
    options: Mapping[str, Any] = field(default_factory=dict)  # the model's own fields


def _image(item: CapturedMedia | None) -> CapturedImage | None:
    return item if isinstance(item, CapturedImage) else None


def _video(item: CapturedMedia | None) -> CapturedVideo | None:
    return item if isinstance(item, CapturedVideo) else None


def engine_job(
    generation: Generation,
    inputs: Mapping[str, CapturedMedia],
    *,
    attempt: int,
    state: Mapping[str, Any],
) -> EngineJob:
    """A stored job as its engine gets it: the generation's resolved fields, and its inputs
    sorted out of their positions (``core.jobs.INPUT_POSITIONS``)."""
    references = tuple(
        image
        for _, item in sorted(
            ((int(pos[3:]), item) for pos, item in inputs.items() if pos.startswith("ref")),
        )
        if (image := _image(item)) is not None
    )
    keyframes = tuple(
        (image, mark.seconds, mark.at, mark.range)
        for index, mark in enumerate(generation.facts.keyframes)
        if (image := _image(inputs.get(f"key{index}"))) is not None
    )
    return EngineJob(
        id=generation.id,
        model=generation.model,
        prompt=generation.prompt,
        aspect_ratio=generation.aspect_ratio,
        width=generation.width,
        height=generation.height,
        fps=generation.fps,
        duration=generation.duration,
        frame_count=generation.frames,
        seed=generation.seed,
        first_image=_image(inputs.get("first")),
        last_image=_image(inputs.get("last")),
        attempt=attempt,
        state=dict(state),
        kind=generation.kind,
        references=references,
        keyframes=keyframes,
        video=_video(inputs.get("video")),
        character=inputs.get("character"),
        performance=_video(inputs.get("performance")),
        options=dict(generation.facts.options),
    )


@dataclass(frozen=True)
class EngineResult:
    """A finished video in the scratch directory, and the facts about it."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int
    media_type: str = "video/mp4"
    #: A JPEG of the middle frame, when the engine has one at hand; otherwise the worker
    #: decodes the video to make it.
    thumbnail: Path | None = None
    #: The file's facts as read back from these very bytes (``vidgen.media.video.probe_video``),
    #: when the engine has them at hand (the noop engine probes each clip it caches once);
    #: otherwise the worker probes the file itself.
    info: VideoInfo | None = None

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0


class EngineContext(ABC):
    """The worker's side of a running job. ``report_progress`` and ``cancelled`` are safe to
    call from any thread, so CPU-bound engines can run their inner loop in a worker thread."""

    scratch_dir: Path

    @abstractmethod
    def report_progress(self, fraction: float) -> None:
        """Record progress in [0, 1]. Values below the last one reported are ignored; the
        worker writes the latest value with its next heartbeat."""

    @abstractmethod
    def report_waiting(self, waiting: bool) -> None:
        """Say that the work is queued somewhere else (a provider's PENDING or THROTTLED), so
        the job shows ``queued`` rather than ``generating`` until this is set back to False.
        A job reports ``generating`` only while an engine is really working on it."""

    @property
    @abstractmethod
    def cancelled(self) -> bool:
        """True once the job was cancelled or its lease was lost: stop as soon as possible."""

    @property
    def handing_back(self) -> bool:
        """True when ``cancelled`` does not mean that the client cancelled: the worker is
        shutting down or lost its lease, and another attempt will take the job over. An engine
        that drives an upstream task leaves that task running then (the next attempt resumes it)
        instead of cancelling it."""
        return False

    def take_poke(self) -> bool:
        """True (once) when the provider's webhook for this job arrived since the last call:
        an engine waiting between two polls of an upstream task polls at once. Only a hint:
        the status still comes from the provider's API. Safe to call from any thread."""
        return False

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()

    @abstractmethod
    async def save_state(self, **state: Any) -> None:
        """Persist engine state (e.g. an upstream task id) on the job at once, so that an attempt
        after a crash sees it in ``EngineJob.state`` and resumes instead of starting over."""


class Engine(ABC):
    """Base class of every engine. Subclasses set ``name`` and implement ``generate``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def configuration_problem(self) -> str | None:
        """Why this engine cannot run with the current settings (e.g. "set
        RUNWAYML_API_SECRET"), or None. Checked at start-up for every routed engine."""
        return None

    def model_problem(self, spec: ModelSpec) -> str | None:
        """Why this engine cannot serve ``spec`` at all (e.g. a model the provider does not
        sell), or None. Checked at start-up for every model routed to this engine."""
        return None

    def routes_by_default(self, spec: ModelSpec) -> bool:
        """Whether a provider key alone (no ``VIDGEN_ROUTES``) sends ``spec`` to this engine:
        every model it can serve, unless the engine keeps some to explicit routes."""
        return self.model_problem(spec) is None

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
        """Submit-time checks beyond the catalog: what this engine cannot honour for this
        model. The default accepts everything the catalog accepts."""
        return []

    @abstractmethod
    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        """Render ``job`` into a file under ``ctx.scratch_dir``."""

    async def aclose(self) -> None:
        """Release clients, models or GPU memory. Called once when the worker stops."""
