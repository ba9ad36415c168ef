"""Request rules that follow from the catalog alone: the validation table of every model.

Pure functions, so the whole table is unit-tested without a server. Every problem is reported at
once (a client fixing one field should not discover the next on its following try).
"""

from __future__ import annotations

import math
import re

from vidgen.core.catalog import DETECTABLE_RATIO_RANGE, ModelSpec
from vidgen.core.models import CapturedImage, GenerationRequest
from vidgen.errors import FieldError, InvalidRequest

__all__ = [
    "SEED_MAX",
    "detect_ratio",
    "is_generation_id",
    "text_errors",
    "text_problem",
    "validate_request",
]

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
    ]
    for name, ref in (("first_image", request.first_image), ("last_image", request.last_image)):
        if ref is not None:
            fields += [(name, ref.url), (name, ref.filename)]
    errors: list[FieldError] = []
    for name, value in fields:
        reason = text_problem(value) if value is not None else None
        if reason is not None and all(e.field != name for e in errors):
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
    if request.first_image is None and spec.requires_image:
        errors.append(FieldError("first_image", f"is required for {spec.id}"))
    if request.first_image is None and not request.prompt.strip():
        errors.append(FieldError("prompt", "is required when no image is given"))
    if request.last_image is not None and not spec.accepts_last_image:
        errors.append(FieldError("last_image", f"{spec.id} does not accept a last frame"))
    if request.last_image is not None and request.first_image is None:
        errors.append(FieldError("last_image", "needs a first image as well"))
    if request.aspect_ratio is not None and request.aspect_ratio not in spec.frame_sizes:
        errors.append(
            FieldError(
                "aspect_ratio",
                f"{request.aspect_ratio!r} is not supported by {spec.id}; "
                f"use one of {', '.join(spec.ratios)}",
            )
        )
    if request.duration is not None and request.duration not in spec.durations:
        errors.append(
            FieldError(
                "duration",
                f"must be {spec.describe_durations()} seconds for {spec.id} "
                f"(got {request.duration})",
            )
        )
    if request.seed is not None and not 0 <= request.seed <= SEED_MAX:
        errors.append(FieldError("seed", f"must be between 0 and {SEED_MAX} (got {request.seed})"))
    return errors


def detect_ratio(spec: ModelSpec, image: CapturedImage) -> str:
    """The model's ratio nearest to the image's shape; the shape must be within 0.5…2."""
    shape = image.width / image.height
    low, high = DETECTABLE_RATIO_RANGE
    if not low <= shape <= high:
        raise InvalidRequest.single(
            "aspect_ratio",
            f"was not given, and cannot be detected from a {image.width}×{image.height} image: "
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
