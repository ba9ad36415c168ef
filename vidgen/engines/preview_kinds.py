"""The preview engine's kinds with an input video: video to video, character performance,
upscale and frame rate, each at the size, frame rate and frame count the job was planned at
(``core.output_plan``), deterministic per seed.

- Video to video: each output frame is the input frame at the same moment, filled and cropped to
  the output size, blended with any keyframe image near its moment (half a second either side),
  given a colour grade the seed picks (a tone curve per channel), and moved by the camera move
  the prompt or seed picks (``preview_motion``), as image to video moves a picture.
- Character performance: the character (an image, or a video's frames) filled to the output
  size, shifted by the motion of the performance video: how far its brightness centroid moved
  since its first frame, on a 32×32 thumbnail, so it costs next to nothing beside the decoding. It has
  no camera move of its own, so the seed changes nothing here.
- Upscale and frame rate: each output frame is the input at the same moment, blended between
  its two neighbouring frames where it falls between them (interpolated frames), resized to
  the output size.

Input frames are decoded once, in order, two at a time (``media.input_video.frames_at``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from vidgen.core.models import CapturedImage, CapturedVideo, Kind
from vidgen.engines.base import EngineJob
from vidgen.engines.preview_motion import IDENTITY, Camera, plan_motion
from vidgen.errors import EngineError, JobCancelled
from vidgen.media.images import fit_image_to_frame, load_rgb
from vidgen.media.input_video import frames_at
from vidgen.media.video import DEFAULT_ENCODER, EncoderSettings, Mp4Writer, U8Array

__all__ = ["INPUT_VIDEO_KINDS", "render_input_video_kind"]

INPUT_VIDEO_KINDS: Final = frozenset(
    {Kind.VIDEO_TO_VIDEO, Kind.CHARACTER_PERFORMANCE, Kind.UPSCALE, Kind.FRAME_RATE}
)
#: How far the performance's motion moves the character: how far its brightness centroid moved
#: since the first frame, times this (a small subject moves the centroid little), as a share of
#: the frame, at most a quarter of it.
_PERFORMANCE_REACH: Final = 2.0
_THUMB: Final = 32
#: A keyframe shows through most at its moment (this share of the frame) and fades out over
#: this many seconds on either side.
_KEYFRAME_WEIGHT: Final = 0.7
_KEYFRAME_REACH: Final = 0.5


def render_input_video_kind(
    job: EngineJob,
    path: Path,
    *,
    report: Callable[[float], None],
    stop_requested: Callable[[], bool],
    encoder: EncoderSettings = DEFAULT_ENCODER,
) -> None:
    """Render ``job`` (one of ``INPUT_VIDEO_KINDS``) to an MP4 at ``path``."""
    frames = _frames(job)
    with Mp4Writer(path, width=job.width, height=job.height, fps=job.fps, encoder=encoder) as out:
        for index, rgb in enumerate(frames):
            if stop_requested():
                raise JobCancelled()
            out.write_rgb(rgb)
            if (index + 1) % 4 == 0:
                report(0.95 * (index + 1) / job.frame_count)
        if stop_requested():
            raise JobCancelled()
    report(1.0)


def _positions(job: EngineJob, video: CapturedVideo) -> Iterator[float]:
    """Where each output frame falls in the input, in input frames (same moment in time)."""
    for index in range(job.frame_count):
        yield min(index / job.fps * video.fps, video.frame_count - 1)


def _frames(job: EngineJob) -> Iterator[U8Array]:
    if job.kind is Kind.CHARACTER_PERFORMANCE:
        return _performance(job)
    if job.video is None:
        raise EngineError(f"a {job.kind.value} job has no input video", name="InvalidInput")
    if job.kind is Kind.VIDEO_TO_VIDEO:
        return _video_to_video(job, job.video)
    return _resampled(job, job.video)


def _resampled(job: EngineJob, video: CapturedVideo) -> Iterator[U8Array]:
    size = (job.width, job.height)
    for before, after, weight in frames_at(video, _positions(job, video)):
        blended = (
            before if weight <= 0 else _u8(cv2.addWeighted(before, 1 - weight, after, weight, 0))
        )
        if blended.shape[1::-1] != size:
            blended = _u8(cv2.resize(blended, size, interpolation=cv2.INTER_CUBIC))
        yield blended


def _u8(array: npt.NDArray[np.generic]) -> U8Array:
    """OpenCV's results typed as what they are (uint8 in, uint8 out); no copy."""
    return np.asarray(array, dtype=np.uint8)


def _fill(rgb: U8Array, width: int, height: int) -> U8Array:
    """Scale to cover ``width``×``height`` and crop the overflow from both sides."""
    source_height, source_width = rgb.shape[:2]
    scale = max(width / source_width, height / source_height)
    scaled_width = max(width, round(source_width * scale))
    scaled_height = max(height, round(source_height * scale))
    scaled = cv2.resize(rgb, (scaled_width, scaled_height), interpolation=cv2.INTER_LINEAR)
    left, top = (scaled_width - width) // 2, (scaled_height - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def _grade(seed: int) -> U8Array:
    """A per-channel tone curve (gamma, lift and gain) the seed picks, as a 256-entry LUT."""
    rng = random.Random(f"grade:{seed}")
    ramp = np.linspace(0.0, 1.0, 256)
    channels = []
    for _ in range(3):
        gamma, lift, gain = rng.uniform(0.7, 1.4), rng.uniform(0.0, 0.12), rng.uniform(0.85, 1.0)
        channels.append(np.clip((lift + (gain - lift) * ramp**gamma) * 255.0, 0, 255))
    lut: U8Array = np.stack(channels, axis=-1).astype(np.uint8).reshape(1, 256, 3)
    return lut


def _moved(rgb: U8Array, camera: Camera, shift: tuple[float, float] = (0.0, 0.0)) -> U8Array:
    height, width = rgb.shape[:2]
    if camera == IDENTITY and shift == (0.0, 0.0):
        return rgb
    matrix = np.array(camera.inverse_affine(width, height), np.float64)
    matrix[0, 2] -= shift[0] * width
    matrix[1, 2] -= shift[1] * height
    return _u8(
        cv2.warpAffine(
            rgb,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
    )


def _video_to_video(job: EngineJob, video: CapturedVideo) -> Iterator[U8Array]:
    lut = _grade(job.seed)
    plan = plan_motion(job.prompt, job.seed, has_tail=False)
    last = max(1, job.frame_count - 1)
    keyframes = _keyframes(job, video)
    for index, (before, _, _) in enumerate(frames_at(video, _positions(job, video))):
        frame = _fill(before, job.width, job.height)
        seconds = index / job.fps
        for image, at in keyframes:
            weight = _KEYFRAME_WEIGHT * max(0.0, 1.0 - abs(seconds - at) / _KEYFRAME_REACH)
            if weight > 0:
                frame = _u8(cv2.addWeighted(frame, 1 - weight, image, weight, 0))
        yield _moved(_u8(cv2.LUT(frame, lut)), plan.first.at(index / last))


def _keyframes(job: EngineJob, video: CapturedVideo) -> list[tuple[U8Array, float]]:
    """Each keyframe image, filled to the output size, and its moment in seconds."""
    length = video.frame_count / video.fps
    found = []
    for image, seconds, at, _window in job.keyframes:
        moment = seconds if seconds is not None else (at or 0.0) * length
        picture = load_rgb(image, at_least=(job.width, job.height))
        found.append((np.asarray(fit_image_to_frame(picture, job.width, job.height)), moment))
    return found


def _centroid(rgb: U8Array) -> tuple[float, float]:
    """The brightness centroid of a frame (on a 32×32 thumbnail), in units of the frame."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    thumb = cv2.resize(gray, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).astype(np.float64)
    total = float(thumb.sum()) or 1.0
    axis = (np.arange(_THUMB, dtype=np.float64) + 0.5) / _THUMB
    return float((thumb.sum(axis=0) * axis).sum() / total), float(
        (thumb.sum(axis=1) * axis).sum() / total
    )


def _performance(job: EngineJob) -> Iterator[U8Array]:
    performance = job.performance
    if performance is None or job.character is None:
        raise EngineError("a character performance needs its character and performance")
    character = job.character
    still: U8Array | None = None
    if isinstance(character, CapturedImage):
        still = np.asarray(
            fit_image_to_frame(
                load_rgb(character, at_least=(job.width, job.height)), job.width, job.height
            )
        )
        looks: Iterator[U8Array] = iter(())
    else:
        looks = (_fill(before, job.width, job.height) for before, _, _ in _character(job))
    start: tuple[float, float] | None = None
    for frame, _, _ in frames_at(performance, _positions(job, performance)):
        x, y = _centroid(frame)
        start = start or (x, y)
        shift = (
            _clamp((x - start[0]) * _PERFORMANCE_REACH),
            _clamp((y - start[1]) * _PERFORMANCE_REACH),
        )
        look = still if still is not None else next(looks)
        # No camera move of its own: all the motion is the performance's, so a performance
        # that keeps still gives a still character (as Act-Two would).
        yield _moved(look, IDENTITY, shift)


def _clamp(value: float, limit: float = 0.25) -> float:
    return max(-limit, min(limit, value))


def _character(job: EngineJob) -> Iterator[tuple[U8Array, U8Array, float]]:
    assert isinstance(job.character, CapturedVideo)
    return frames_at(job.character, _positions(job, job.character))
