"""The preview engine: real H.264 video from camera moves over the input images, on any CPU.

It emulates an image-to-video model well enough to build and test against: the first frame is
the input image filled and cropped to the output size (upright, whatever its EXIF orientation),
and a smooth camera move animates it: zoom in or out, pan, tilt or push in, as the prompt says
or else as the seed picks (see ``preview_motion``). With a tail image the camera leaves the first
image and arrives on the tail image while one dissolves into the other, and the last frame is
the tail image. Without any image (text to video) it animates a landscape painted from the
prompt (see ``preview_scene``). Kinds with an input video (video to video, character
performance, upscale, frame rate) are rendered by ``preview_kinds``. The same job always gives
the same frames.

Why it is fast (a 5 s 720p clip takes about a second on a 2-core VM; ``bench/RESULTS.md``):

- Each source image is converted to Y′CbCr 4:2:0 planes once. Each frame then warps the three
  planes (the chroma planes at quarter size) straight into the encoder's format: no per-frame
  RGB, no per-frame colour conversion.
- The warps are OpenCV calls, which release the GIL, and the writer encodes on its own thread,
  so frame generation and x264 run side by side on the two cores.
- The whole render runs in a worker thread (``asyncio.to_thread``): the event loop stays free.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

import cv2
import numpy as np

from vidgen.core.models import CapturedImage
from vidgen.engines.base import Engine, EngineContext, EngineJob, EngineResult
from vidgen.engines.preview_kinds import INPUT_VIDEO_KINDS, render_input_video_kind
from vidgen.engines.preview_motion import IDENTITY, Camera, MotionPlan, plan_motion
from vidgen.engines.preview_scene import render_scene
from vidgen.errors import EngineError, JobCancelled
from vidgen.media.images import fit_image_to_frame, load_rgb
from vidgen.media.video import (
    DEFAULT_ENCODER,
    EncoderSettings,
    Mp4Writer,
    Yuv420Planes,
    rgb_to_yuv420p,
)
from vidgen.settings import Settings

__all__ = ["PreviewEngine", "fitted_planes", "render_frame", "render_preview"]

#: Progress is reported every this many frames: often enough for a smooth progress bar,
#: without a call into the worker for every frame.
_PROGRESS_EVERY: Final = 4
#: The share of the progress bar that frame generation fills; the rest is the encoder's flush
#: and the faststart rewrite.
_FRAMES_SHARE: Final = 0.95

_WARP_FLAGS: Final = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP


class PreviewEngine(Engine):
    """CPU-only, weight-free engine. See the module docstring."""

    name = "preview"
    description = (
        "Emulates each model on the CPU at its real sizes, frame counts and prices, the same "
        "video for the same seed; no weights, no GPU."
    )

    def __init__(self, settings: Settings, *, encoder: EncoderSettings = DEFAULT_ENCODER) -> None:
        super().__init__(settings)
        self.encoder = encoder

    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        ctx.raise_if_cancelled()
        path = ctx.scratch_dir / "preview.mp4"
        # to_thread cannot interrupt its thread: if this task is cancelled (a timeout, a
        # shutdown), the event tells the render loop to stop at its next frame.
        stop = threading.Event()
        try:
            await asyncio.to_thread(
                render_preview,
                job,
                path,
                progress=ctx.report_progress,
                should_stop=lambda: stop.is_set() or ctx.cancelled,
                encoder=self.encoder,
            )
        except asyncio.CancelledError:
            stop.set()
            raise
        return EngineResult(
            path=path,
            width=job.width,
            height=job.height,
            fps=float(job.fps),
            frame_count=job.frame_count,
        )


def render_preview(
    job: EngineJob,
    path: Path,
    *,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    encoder: EncoderSettings = DEFAULT_ENCODER,
) -> None:
    """Render ``job`` to an MP4 at ``path``, synchronously (the engine runs it in a thread).

    ``should_stop`` is polled before every frame; when it returns True the partial file is
    deleted and ``JobCancelled`` is raised. ``progress`` receives fractions in [0, 1] that only
    grow, ending with 1.0 once the file is complete.
    """

    def stop_requested() -> bool:
        return should_stop is not None and should_stop()

    def report(fraction: float) -> None:
        if progress is not None:
            progress(fraction)

    if stop_requested():
        raise JobCancelled()
    width, height, count = job.width, job.height, job.frame_count
    if count < 1:
        raise EngineError(f"a video needs at least one frame, got {count}")
    if job.kind in INPUT_VIDEO_KINDS:
        render_input_video_kind(
            job, path, report=report, stop_requested=stop_requested, encoder=encoder
        )
        return
    if job.first_image is not None:
        first = fitted_planes(job.first_image, width, height, "first image")
    else:
        first = rgb_to_yuv420p(render_scene(job.prompt, job.seed, width=width, height=height))
    last = None
    if job.last_image is not None:
        last = fitted_planes(job.last_image, width, height, "last image")
    plan = plan_motion(job.prompt, job.seed, has_tail=last is not None)

    frame = Yuv420Planes.empty(width, height)
    scratch = Yuv420Planes.empty(width, height) if last is not None else None
    with Mp4Writer(path, width=width, height=height, fps=job.fps, encoder=encoder) as writer:
        for index in range(count):
            if stop_requested():
                raise JobCancelled()
            # A single frame is the last frame: with a tail image, it must be the tail image.
            t = index / (count - 1) if count > 1 else 1.0
            render_frame(plan, t, first, last, frame, scratch)
            writer.write_yuv(frame)
            if (index + 1) % _PROGRESS_EVERY == 0:
                report(_FRAMES_SHARE * (index + 1) / count)
        if stop_requested():
            raise JobCancelled()
    report(1.0)


def render_frame(
    plan: MotionPlan,
    t: float,
    first: Yuv420Planes,
    last: Yuv420Planes | None,
    out: Yuv420Planes,
    scratch: Yuv420Planes | None,
) -> None:
    """Render the frame at time ``t`` (0 first frame … 1 last frame) of ``plan`` into ``out``.
    With a tail image (``last``), ``scratch`` holds its view while the two are dissolved."""
    weight = plan.tail_weight(t)
    if last is None or plan.last is None or scratch is None or weight <= 0.0:
        _warp(first, plan.first.at(t), out)
    elif weight >= 1.0:
        _warp(last, plan.last.at(t), out)
    else:
        _warp(first, plan.first.at(t), out)
        _warp(last, plan.last.at(t), scratch)
        # Blending Y′CbCr is blending RGB: the conversion is affine and the weights sum to 1.
        for a, b in zip(out.as_tuple(), scratch.as_tuple(), strict=True):
            cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0, dst=a)


def _warp(source: Yuv420Planes, camera: Camera, out: Yuv420Planes) -> None:
    """Render ``camera``'s view of ``source`` into ``out``, plane by plane."""
    for src, dst in zip(source.as_tuple(), out.as_tuple(), strict=True):
        if camera == IDENTITY:
            np.copyto(dst, src)
            continue
        plane_height, plane_width = src.shape
        matrix = np.array(camera.inverse_affine(plane_width, plane_height), np.float64)
        # The window never leaves the frame; REPLICATE only covers the last sub-pixel at the
        # edges, where a constant border would bleed a dark fringe in.
        cv2.warpAffine(
            src,
            matrix,
            (plane_width, plane_height),
            dst=dst,
            flags=_WARP_FLAGS,
            borderMode=cv2.BORDER_REPLICATE,
        )


def fitted_planes(
    image: CapturedImage, width: int, height: int, what: str = "image"
) -> Yuv420Planes:
    """Decode ``image`` upright, fill and crop it to ``width``×``height``, and convert it to the
    encoder's planes: done once per source image, never per frame."""
    try:
        picture = load_rgb(image, at_least=(width, height))
    except Exception as exc:  # verified at submit, so this is storage damage, not user error
        raise EngineError(f"the {what} could not be decoded: {exc}", name="InvalidImage") from exc
    fitted = fit_image_to_frame(picture, width, height)
    return rgb_to_yuv420p(np.asarray(fitted))
