"""What a validated request will make, and what it costs: the output's frame size, frame rate,
frame count and billed seconds, per kind. Decided once, at submit, from the catalog entry and
the captured inputs, so that every engine renders (and every dialect reports) the same thing.

- Text or image to video: the ratio given, else the one nearest the first image, else the
  model's default; the duration given or the model's default; the model's fps and frame rule.
- Video to video and character performance: as long as the input video (the performance for
  a character performance) at the model's fps, at most the model's longest duration (the
  first seconds are used), refused below its shortest; the ratio given, else the one nearest
  the input video (the character for a character performance).
- Upscale: the input's frames and frame rate at a larger size: the ``resolution`` option's
  short side (``720p``, ``1k`` = 1080, ``2k`` = 1440, ``4k`` = 2160), else ``factor`` × the
  input (2 by default), never smaller than the input; ``fps_boost`` doubles the frame rate.
- Frame rate: the input's frames and size at ``target_framerate`` (NTSC rates such as
  ``29_97`` round to whole frames a second), else twice the input's rate.

Every kind is priced per output second at the model's rate, billed in whole seconds rounded
up (``ModelSpec.price``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from vidgen.core.catalog import ModelSpec
from vidgen.core.models import CapturedImage, CapturedMedia, CapturedVideo, GenerationRequest, Kind
from vidgen.core.validation import nearest_ratio
from vidgen.errors import FieldError, InvalidRequest

__all__ = ["OutputPlan", "plan_output"]

#: The short side of each named resolution an upscaler takes.
_RESOLUTION_LINES = {"720p": 720, "1k": 1080, "1080p": 1080, "2k": 1440, "1440p": 1440, "4k": 2160}
_DEFAULT_FACTOR = 2


@dataclass(frozen=True)
class OutputPlan:
    aspect_ratio: str
    width: int
    height: int
    duration: int  # whole seconds: what is shown and priced
    fps: int
    frames: int
    credits: int


def _billed_seconds(frames: int, fps: int) -> int:
    return max(1, -(-frames // fps))


def _even(value: float | Fraction) -> int:
    """yuv420p needs even sides."""
    return max(2, round(value / 2) * 2)


def _shape_ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def _option(spec: ModelSpec, request: GenerationRequest, name: str) -> object:
    if name in request.options:
        return request.options[name]
    option = spec.options.get(name)
    return option.default if option is not None else None


def plan_output(
    spec: ModelSpec,
    request: GenerationRequest,
    *,
    first: CapturedImage | None = None,
    video: CapturedVideo | None = None,
    character: CapturedMedia | None = None,
    performance: CapturedVideo | None = None,
) -> OutputPlan:
    """The output of a request whose inputs are captured. Raises ``InvalidRequest`` naming the
    input video when its length does not suit the model."""
    kind = request.resolved_kind
    if kind in (Kind.VIDEO_TO_VIDEO, Kind.CHARACTER_PERFORMANCE):
        source, field = (
            (video, "video") if kind is Kind.VIDEO_TO_VIDEO else (performance, "performance")
        )
        shape = video if kind is Kind.VIDEO_TO_VIDEO else character
        assert source is not None and shape is not None  # validated: both are required
        return _follow_input(spec, request, source, field, shape)
    if kind in (Kind.UPSCALE, Kind.FRAME_RATE):
        assert video is not None
        return _rework_input(spec, request, video, kind)
    if request.aspect_ratio is not None:
        ratio = request.aspect_ratio
    elif first is not None:
        ratio = nearest_ratio(spec, first.width, first.height)
    else:
        ratio = spec.default_ratio
    width, height = spec.frame_size(ratio)
    duration = request.duration or spec.default_duration
    return OutputPlan(
        ratio, width, height, duration, spec.fps, spec.frame_count(duration), spec.price(duration)
    )


def _seconds(video: CapturedVideo) -> float:
    # From the frames, not the container's duration, which may count an audio tail.
    return video.frame_count / video.fps


def _follow_input(
    spec: ModelSpec,
    request: GenerationRequest,
    source: CapturedVideo,
    field: str,
    shape: CapturedMedia,
) -> OutputPlan:
    shortest, longest = min(spec.durations), max(spec.durations)
    seconds = _seconds(source)
    # A twentieth of a second of slack: a 3 s clip of 29.97 fps video is 2.9697 s.
    if seconds < shortest - 0.05:
        raise InvalidRequest.single(
            field,
            "is {seconds:.2f} s long; {model} needs at least {shortest} s",
            model=spec.id,
            seconds=seconds,
            shortest=shortest,
        )
    ratio = request.aspect_ratio or nearest_ratio(
        spec, shape.width, shape.height, "video" if isinstance(shape, CapturedVideo) else "image"
    )
    width, height = spec.frame_size(ratio)
    frames = min(max(1, round(seconds * spec.fps)), longest * spec.fps)
    _check_keyframes(request, frames / spec.fps)
    duration = _billed_seconds(frames, spec.fps)
    return OutputPlan(ratio, width, height, duration, spec.fps, frames, spec.price(duration))


def _check_keyframes(request: GenerationRequest, length: float) -> None:
    """A keyframe's moment and edit window lie within the part of the input video that is
    used: one past its end could never show."""
    errors = []
    for index, mark in enumerate(request.keyframes):
        if mark.seconds is not None and mark.seconds > length + 0.05:
            errors.append(
                FieldError(
                    f"keyframes.{index}.seconds",
                    f"is past the end of the input video ({length:.2f} s used)",
                )
            )
        if mark.range is not None and mark.range[0] >= length:
            errors.append(
                FieldError(
                    f"keyframes.{index}.range",
                    f"starts past the end of the input video ({length:.2f} s used)",
                )
            )
    if errors:
        raise InvalidRequest(errors)


def _rework_input(
    spec: ModelSpec, request: GenerationRequest, video: CapturedVideo, kind: Kind
) -> OutputPlan:
    longest = max(spec.durations)
    seconds = _seconds(video)
    if seconds > longest + 0.05:
        raise InvalidRequest(
            [
                FieldError.naming(
                    spec.id,
                    "video",
                    "is {seconds:.2f} s long; {model} takes at most {longest} s",
                    seconds=seconds,
                    longest=longest,
                )
            ]
        )
    if kind is Kind.UPSCALE:
        # ``fps_boost`` (Magnific's) doubles the rate with interpolated frames.
        boost = 2 if _option(spec, request, "fps_boost") is True else 1
        fps = max(1, round(video.fps)) * boost
        frames = video.frame_count * boost
        resolution = _option(spec, request, "resolution")
        factor_option = _option(spec, request, "factor")
        short = min(video.width, video.height)
        if isinstance(resolution, str) and resolution.lower() in _RESOLUTION_LINES:
            factor = Fraction(_RESOLUTION_LINES[resolution.lower()], short)
        elif isinstance(factor_option, int | float):
            factor = Fraction(factor_option)
        else:
            factor = Fraction(_DEFAULT_FACTOR)
        factor = max(factor, Fraction(1))
        width, height = _even(video.width * factor), _even(video.height * factor)
    else:
        target = _option(spec, request, "target_framerate")
        rate = float(str(target).replace("_", ".")) if target is not None else 2 * video.fps
        fps = max(1, round(rate))
        frames = max(1, round(seconds * fps))
        width, height = _even(video.width), _even(video.height)
    duration = _billed_seconds(frames, fps)
    return OutputPlan(
        _shape_ratio(width, height), width, height, duration, fps, frames, spec.price(duration)
    )
