"""Request rules that follow from the catalog alone: the validation table of every model.

Pure functions, so the whole table is unit-tested without a server. Every problem is reported at
once (a client fixing one field should not discover the next on its following try).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from vidgen.core.catalog import DETECTABLE_RATIO_RANGE, ModelSpec, OptionSpec
from vidgen.core.models import CapturedImage, GenerationRequest, Kind
from vidgen.errors import FieldError, InvalidRequest

__all__ = [
    "IMAGE_KINDS",
    "MAX_KEYFRAMES",
    "SEED_MAX",
    "detect_ratio",
    "is_generation_id",
    "kind_errors",
    "nearest_ratio",
    "option_errors",
    "text_errors",
    "text_problem",
    "validate_request",
]

#: The kinds whose inputs are images (or nothing): the first and last frame rules apply.
IMAGE_KINDS = frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO})
#: Runway's limit on an aleph2 edit's keyframes, the only model that takes them.
MAX_KEYFRAMES = 5
#: The inputs each kind needs beyond a prompt and images.
_REQUIRED_INPUTS: dict[Kind, tuple[str, ...]] = {
    Kind.VIDEO_TO_VIDEO: ("video",),
    Kind.UPSCALE: ("video",),
    Kind.FRAME_RATE: ("video",),
    Kind.CHARACTER_PERFORMANCE: ("character", "performance"),
}
_OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "number": (int, float),
    "string": (str,),
}

SEED_MAX = 4_294_967_295

#: Generation ids are the canonical text of a UUID (``service.submit`` makes them); anything
#: else names no generation, and is answered 404 without asking the database.
_GENERATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_generation_id(value: str) -> bool:
    return _GENERATION_ID.fullmatch(value) is not None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or sent on as text, or None. PostgreSQL cannot store the
    NUL character in a text or JSON column at all, and a lone UTF-16 surrogate (``"\\ud800"``
    in JSON) is not a character: neither encodes as UTF-8. Both are refused everywhere, on
    SQLite too, so that both databases answer the same."""
    if "\x00" in value:
        return "must not contain the NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it contains a lone surrogate, e.g. \\ud800)"
    return None


def text_errors(request: GenerationRequest) -> list[FieldError]:
    """Every text field of the request that cannot be stored or sent on (``text_problem``).
    Checked before anything else reads the request: a URL with a NUL must not reach the
    fetcher, nor a prompt with one the database."""
    fields: list[tuple[str, str | None]] = [
        ("model", request.model),
        ("prompt", request.prompt),
        ("aspect_ratio", request.aspect_ratio),
        ("webhook_url", request.webhook_url),
        ("idempotency_key", request.idempotency_key),
        *(("webhook_events", event) for event in request.webhook_events or ()),
        *((name, value) for name, value in request.options.items() if isinstance(value, str)),
    ]
    refs = [
        ("first_image", request.first_image),
        ("last_image", request.last_image),
        ("video", request.video),
        ("character", request.character),
        ("performance", request.performance),
        *((f"references.{i}", ref) for i, ref in enumerate(request.references)),
        *((f"keyframes.{i}", mark.image) for i, mark in enumerate(request.keyframes)),
    ]
    for name, ref in refs:
        if ref is not None:
            fields += [(name, ref.url), (name, ref.filename)]
    errors: list[FieldError] = []
    for name, value in fields:
        reason = text_problem(value) if value is not None else None
        if reason is not None and all(e.field != name for e in errors):
            errors.append(FieldError(name, reason))
    return errors


def _words(kind: Kind) -> str:
    return kind.value.replace("_", " ")


def kind_errors(spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
    """The request's inputs against its kind and the model: the kind is one the model does,
    every input the kind needs is there, and none it does not take is."""
    kind = request.resolved_kind
    inferred_missing_image = request.kind is None and kind in IMAGE_KINDS and spec.requires_image
    if not spec.takes(kind) and not inferred_missing_image:
        # An inferred text to video on an image model is a missing image (reported below).
        done = ", ".join(sorted(_words(k) for k in spec.kinds))
        return [
            FieldError.naming(
                spec.id,
                "model",
                "{model} does not do {kind}; it does {done}",
                kind=_words(kind),
                done=done,
            )
        ]
    errors: list[FieldError] = []
    present = {
        "first_image": request.first_image,
        "last_image": request.last_image,
        "video": request.video,
        "character": request.character,
        "performance": request.performance,
    }
    if not request.prompt.strip():
        # Without an input a prompt is all there is to go on; with one, only some models need
        # a prompt too (the catalog's prompt_required, as Runway's SDK types promptText).
        if kind in IMAGE_KINDS and request.first_image is None:
            errors.append(FieldError("prompt", "is required when no image is given"))
        elif kind in spec.prompt_required:
            errors.append(
                FieldError.naming(
                    spec.id, "prompt", "is required for {model}'s {kind}", kind=_words(kind)
                )
            )
    if kind in IMAGE_KINDS:
        needs_image = spec.requires_image or kind is Kind.IMAGE_TO_VIDEO
        if request.first_image is None and needs_image:
            errors.append(FieldError.naming(spec.id, "first_image", "is required for {model}"))
        if request.last_image is not None and not spec.accepts_last_image:
            errors.append(
                FieldError.naming(spec.id, "last_image", "{model} does not accept a last frame")
            )
        if request.last_image is not None and request.first_image is None:
            errors.append(FieldError("last_image", "needs a first image as well"))
        taken: tuple[str, ...] = ("first_image", "last_image")
    else:
        taken = _REQUIRED_INPUTS[kind]
        errors += [
            FieldError(name, f"is required for {_words(kind)}")
            for name in taken
            if present[name] is None
        ]
    errors += [
        FieldError(name, f"is not taken by {_words(kind)}")
        for name, ref in present.items()
        if ref is not None and name not in taken
    ]
    if len(request.references) > spec.max_references:
        limit = (
            f"at most {spec.max_references} reference images"
            if spec.max_references
            else "no reference images"
        )
        errors.append(
            FieldError.naming(
                spec.id,
                "references",
                "{model} takes {limit} (got {count})",
                limit=limit,
                count=len(request.references),
            )
        )
    errors += _keyframe_errors(spec, request, kind)
    if kind in (Kind.UPSCALE, Kind.FRAME_RATE):
        for name, value in (("aspect_ratio", request.aspect_ratio), ("duration", request.duration)):
            if value is not None:
                errors.append(
                    FieldError(name, f"is not taken by {_words(kind)}: it follows the input video")
                )
    elif kind not in IMAGE_KINDS and request.duration is not None:
        errors.append(
            FieldError("duration", f"is not taken by {_words(kind)}: it follows the input video")
        )
    return errors


def _keyframe_errors(spec: ModelSpec, request: GenerationRequest, kind: Kind) -> list[FieldError]:
    if not request.keyframes:
        return []
    if kind is not Kind.VIDEO_TO_VIDEO:
        return [FieldError("keyframes", f"are only taken by video to video, not {_words(kind)}")]
    errors: list[FieldError] = []
    if len(request.keyframes) > MAX_KEYFRAMES:
        errors.append(
            FieldError(
                "keyframes", f"at most {MAX_KEYFRAMES} are taken (got {len(request.keyframes)})"
            )
        )
    for index, mark in enumerate(request.keyframes):
        if (mark.seconds is None) == (mark.at is None):
            errors.append(FieldError(f"keyframes.{index}", "needs either seconds or at"))
        elif mark.at is not None and not 0.0 <= mark.at <= 1.0:
            errors.append(FieldError(f"keyframes.{index}.at", "must be between 0 and 1"))
        elif mark.seconds is not None and not 0 <= mark.seconds < math.inf:
            errors.append(
                FieldError(f"keyframes.{index}.seconds", "must be a finite, positive number")
            )
        if mark.range is None:
            continue
        start, end = mark.range
        if not 0 <= start < end:
            errors.append(
                FieldError(
                    f"keyframes.{index}.range",
                    f"must start at 0 or later and end after it starts (got {start} to {end})",
                )
            )
        elif mark.seconds is not None and not start <= mark.seconds < end:
            errors.append(
                FieldError(
                    f"keyframes.{index}.seconds",
                    f"must fall within its range, {start} to {end} s (got {mark.seconds:g})",
                )
            )
    # Runway's rule: an edit window on some keyframes only would leave the others' undefined.
    if len({mark.range is None for mark in request.keyframes}) > 1:
        errors.append(FieldError("keyframes", "every keyframe sets a range, or none does"))
    return errors


def _option_problem(name: str, option: OptionSpec, value: Any) -> str | None:
    types = _OPTION_TYPES[option.type]
    if not isinstance(value, types) or (option.type != "bool" and isinstance(value, bool)):
        return f"must be a {option.type} (got {type(value).__name__})"
    if option.values and value not in option.values:
        return f"must be one of {', '.join(map(str, option.values))} (got {value!r})"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if isinstance(value, int | float):
        if option.minimum is not None and value < option.minimum:
            return f"must be at least {option.minimum:g} (got {value})"
        if option.maximum is not None and value > option.maximum:
            return f"must be at most {option.maximum:g} (got {value})"
    return None


def option_errors(spec: ModelSpec, options: Mapping[str, Any]) -> list[FieldError]:
    """The model's own fields against its catalog entry (``ModelSpec.options``); a field the
    model does not have is refused, never silently dropped. A model only the aimlapi upstream
    knows (``passthrough``) has no entry to check against: its fields go upstream as sent, and
    the upstream's own refusal decides."""
    if spec.passthrough:
        return []
    errors: list[FieldError] = []
    for name, value in options.items():
        option = spec.options.get(name)
        if option is None:
            known = ", ".join(sorted(spec.options)) or "none"
            errors.append(
                FieldError.naming(
                    spec.id, name, "is not an option of {model} (its options: {known})", known=known
                )
            )
        elif (reason := _option_problem(name, option, value)) is not None:
            errors.append(FieldError(name, reason))
    return errors


def validate_request(spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(request.prompt) > spec.max_prompt_chars:
        errors.append(
            FieldError(
                "prompt",
                f"must be at most {spec.max_prompt_chars} characters (got {len(request.prompt)})",
            )
        )
    errors += kind_errors(spec, request)
    if errors and errors[-1].field == "model":
        return errors
    errors += option_errors(spec, request.options)
    kind = request.resolved_kind
    refused = {e.field for e in errors}  # "is not taken": no second message about its value
    if (
        request.aspect_ratio is not None
        and "aspect_ratio" not in refused
        and request.aspect_ratio not in spec.frame_sizes
    ):
        errors.append(
            FieldError.naming(
                spec.id,
                "aspect_ratio",
                "{ratio!r} is not supported by {model}; use one of {ratios}",
                ratio=request.aspect_ratio,
                ratios=", ".join(spec.ratios),
            )
        )
    if (
        request.duration is not None
        and kind in IMAGE_KINDS
        and request.duration not in spec.durations
    ):
        errors.append(
            FieldError.naming(
                spec.id,
                "duration",
                "must be {durations} seconds for {model} (got {duration})",
                durations=spec.describe_durations(),
                duration=request.duration,
            )
        )
    if request.seed is not None and not 0 <= request.seed <= SEED_MAX:
        errors.append(FieldError("seed", f"must be between 0 and {SEED_MAX} (got {request.seed})"))
    return errors


def detect_ratio(spec: ModelSpec, image: CapturedImage) -> str:
    """The model's ratio nearest to the image's shape; the shape must be within 0.5…2."""
    return nearest_ratio(spec, image.width, image.height, "image")


def nearest_ratio(spec: ModelSpec, width: int, height: int, what: str = "image") -> str:
    """The model's ratio nearest to a ``width``×``height`` input (``what``: image or video);
    its shape must be within 0.5…2."""
    shape = width / height
    low, high = DETECTABLE_RATIO_RANGE
    if not low <= shape <= high:
        raise InvalidRequest.single(
            "aspect_ratio",
            f"was not given, and cannot be detected from a {width}×{height} {what}: "
            f"its width/height ({shape:.2f}) must be between {low} and {high}. "
            f"Pass one of {', '.join(spec.ratios)}",
        )
    # Nearest on a log scale, so 2:1 and 1:2 are equally far from 1:1.
    return min(
        spec.ratios,
        key=lambda r: abs(
            math.log(spec.frame_sizes[r][0] / spec.frame_sizes[r][1]) - math.log(shape)
        ),
    )
