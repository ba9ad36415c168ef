"""Runway's published contract for create bodies, as the fake (``runway_server``) enforces it:
each endpoint's models with their required and known fields, ratios and durations, and the
rules for assets (data URIs under 5 MiB of the right type, https URLs on a domain name, or the
``runway://`` URIs of finished uploads)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Container
from typing import Any

MAX_DATA_URI = 5 * 1024 * 1024
SEED_MAX = 4_294_967_295

MODELS: dict[str, dict[str, Any]] = {
    "gen4_turbo": {
        "ratios": {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"},
        "durations": set(range(2, 11)),
        "positions": {"first"},
    },
    "gen3a_turbo": {
        "ratios": {"1280:768", "768:1280"},
        "durations": {5, 10},
        "positions": {"first", "last"},
    },
}
GEN45_RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
#: The other endpoints' models, each with its fields (required ones first, in ``required``) and
#: its ratios; ``output`` is the frame the fake answers with where the body names no ratio.
ENDPOINT_MODELS: dict[str, dict[str, dict[str, Any]]] = {
    "text_to_video": {
        "gen4.5": {
            "required": {"promptText", "ratio"},
            "fields": {"duration", "seed", "contentModeration"},
            "ratios": {"1280:720", "720:1280"},
            "durations": set(range(2, 11)),
        },
        "seedance2": {
            "required": {"promptText"},
            "fields": {
                "ratio",
                "duration",
                "seed",
                "audio",
                "references",
                "referenceAudio",
                "referenceVideos",
            },
            "durations": set(range(3, 11)),
            "reference_keys": {"uri"},
        },
    },
    "image_to_video": {
        "gen4.5": {
            "required": {"promptImage", "ratio"},
            "fields": {"promptText", "duration", "seed", "contentModeration"},
            "ratios": GEN45_RATIOS,
            "durations": set(range(2, 11)),
        },
        "veo3.1": {
            "required": {"promptImage", "ratio"},
            "fields": {"promptText", "duration", "seed", "audio", "negativePrompt"},
            "ratios": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
            "durations": {4, 6, 8},
            "positions": {"first", "last"},
        },
    },
    "video_to_video": {
        "aleph2": {
            "required": {"videoUri"},
            "fields": {"promptText", "keyframes", "seed", "ratio", "contentModeration"},
            "output": "1280:720",
        },
        "seedance2": {
            "required": {"promptVideo"},
            "fields": {
                "promptText",
                "duration",
                "ratio",
                "seed",
                "audio",
                "references",
                "referenceAudio",
                "referenceVideos",
            },
            "reference_keys": {"uri"},
        },
        "klingO3_4k": {
            "required": {"promptVideo", "promptText"},
            "fields": {"providerSettings", "references"},
            "reference_keys": {"uri", "position"},
            "output": "1280:720",
        },
    },
    "character_performance": {
        "act_two": {
            "required": {"character", "reference"},
            "fields": {"ratio", "seed", "bodyControl", "expressionIntensity", "contentModeration"},
            "ratios": GEN45_RATIOS,
        },
    },
    "video_upscale": {
        "magnific_video_upscaler_creative": {
            "required": {"videoUri"},
            "fields": {"creativity", "flavor", "fpsBoost", "resolution", "sharpen", "smartGrain"},
            "output": "2560:1440",
        },
        "enhance_frame_rate": {
            "required": {"videoUri", "targetFramerate"},
            "fields": set(),
            "output": "1280:720",
        },
    },
}
FIELDS = {"model", "promptImage", "ratio", "duration", "promptText", "seed", "contentModeration"}


def validate_endpoint(
    endpoint: str, body: object, uploads: Container[str] = ()
) -> list[dict[str, Any]]:
    """Runway's checks on a create body at ``POST /v1/<endpoint>``: the seed-era models on
    image_to_video as ``validate_create``; every other model by its required and known fields,
    its ratios and durations, and its assets (data URIs of the right kind, under 5 MiB, or the
    ``runway://`` URIs of ``uploads``)."""
    if not isinstance(body, dict):
        return [{"message": "Expected an object", "path": []}]
    models = ENDPOINT_MODELS.get(endpoint, {})
    if endpoint == "image_to_video" and body.get("model") in MODELS:
        return validate_create(body)
    model = models.get(body.get("model"))  # type: ignore[arg-type]
    if model is None:
        known = [*models, *(MODELS if endpoint == "image_to_video" else ())]
        return [{"message": f"Invalid enum value. Expected {' | '.join(known)}", "path": ["model"]}]
    issues: list[dict[str, Any]] = []

    def issue(path: str, message: str) -> None:
        issues.append({"message": message, "path": [path]})

    for name in model["required"] - body.keys():
        issue(name, "Required")
    for name in body.keys() - model["required"] - model["fields"] - {"model"}:
        issue(name, "Unrecognized key")
    if "ratio" in body and body["ratio"] not in model.get("ratios", {body["ratio"]}):
        issue("ratio", f"Invalid enum value. Expected {' | '.join(sorted(model['ratios']))}")
    if "durations" in model and body.get("duration", 5) not in model["durations"]:
        issue("duration", "Invalid duration")
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        issue("seed", f"Number must be between 0 and {SEED_MAX}")
    text = body.get("promptText")
    if text is not None and (not isinstance(text, str) or not text):
        issue("promptText", "String must contain between 1 and 1000 UTF-16 code units")
    assets: list[tuple[str, object, str]] = []
    for name in ("videoUri", "promptVideo"):
        if name in body:
            assets.append((name, body[name], "video"))
    images = body.get("promptImage")
    if isinstance(images, str):
        assets.append(("promptImage", images, "image"))
    elif isinstance(images, list):
        positions = [i.get("position") for i in images if isinstance(i, dict)]
        if len(positions) != len(images) or len(set(positions)) != len(positions):
            issue("promptImage", "Each position may appear once")
        for image in images:
            if isinstance(image, dict) and image.get("position") in model.get("positions", ()):
                assets.append(("promptImage", image.get("uri"), "image"))
            else:
                issue("promptImage", "Invalid position for this model")
    references = body.get("references", [])
    if not isinstance(references, list):
        issue("references", "Expected array")
    for i, item in enumerate(references if isinstance(references, list) else []):
        if not isinstance(item, dict) or not {"uri"} <= item.keys() <= model.get(
            "reference_keys", {"uri"}
        ):
            issue("references", f"references[{i}] is not a reference image")
        else:
            assets.append(("references", item["uri"], "image"))
    for name in ("character", "reference"):
        item = body.get(name)
        if name in body and (
            not isinstance(item, dict) or item.get("type") not in ("image", "video")
        ):
            issue(name, "Expected {type: image | video, uri}")
        elif isinstance(item, dict):
            assets.append((name, item.get("uri"), str(item["type"])))
    if isinstance(body.get("reference"), dict) and body["reference"].get("type") != "video":
        issue("reference", "Invalid literal value, expected video")
    keyframes = body.get("keyframes") or []
    for i, keyframe in enumerate(keyframes):
        problem = keyframe_problem(keyframe)
        if problem:
            issue("keyframes", f"keyframes[{i}] {problem}")
        else:
            assets.append(("keyframes", keyframe.get("uri"), "image"))
    if len({isinstance(k, dict) and "range" in k for k in keyframes}) > 1:
        issue("keyframes", "All keyframes must either set a range or none may")
    for name, uri, kind in assets:
        problem = asset_problem(uri, kind, uploads)
        if problem:
            issue(name, problem)
    return issues


def keyframe_problem(keyframe: object) -> str | None:
    """aleph2's keyframe: ``{uri, seconds}`` (from the start) or ``{uri, at}`` (0…1 of the
    input's length), with an optional edit window ``range {start_seconds, end_seconds}`` in whole
    seconds that holds the keyframe's moment (runwayml 5.24's ``Variant0Keyframe``)."""
    if not isinstance(keyframe, dict) or not {"uri"} <= keyframe.keys() <= {
        "uri",
        "seconds",
        "at",
        "range",
    }:
        return "is not {uri, seconds | at, range?}"
    seconds, at = keyframe.get("seconds"), keyframe.get("at")
    if ("seconds" in keyframe) == ("at" in keyframe):
        return "needs exactly one of seconds and at"
    if at is not None and not (isinstance(at, int | float) and 0 <= at <= 1):
        return "at must be a number from 0 to 1"
    if "seconds" in keyframe and not (isinstance(seconds, int | float) and seconds >= 0):
        return "seconds must be a number of at least 0"
    window = keyframe.get("range")
    if "range" in keyframe:
        if not isinstance(window, dict) or window.keys() != {"start_seconds", "end_seconds"}:
            return "range is not {start_seconds, end_seconds}"
        start, end = window["start_seconds"], window["end_seconds"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            return "range needs whole seconds"
        if not 0 <= start < end:
            return "range must start at 0 or later and end after it starts"
        if isinstance(seconds, int | float) and not start <= seconds < end:
            return "seconds must fall within its range"
    return None


def validate_create(body: object) -> list[dict[str, Any]]:
    """Runway's checks on a create body, as ``issues`` (empty when the body is fine)."""
    if not isinstance(body, dict):
        return [{"message": "Expected an object", "path": []}]
    issues: list[dict[str, Any]] = []

    def issue(path: str, message: str) -> None:
        issues.append({"message": message, "path": [path]})

    for name in body.keys() - FIELDS:
        issue(name, "Unrecognized key")
    model = MODELS.get(body.get("model"))  # type: ignore[arg-type]
    if model is None:
        issue("model", f"Invalid enum value. Expected {' | '.join(MODELS)}")
        return issues
    if body.get("ratio") not in model["ratios"]:
        issue("ratio", f"Invalid enum value. Expected {' | '.join(sorted(model['ratios']))}")
    duration = body.get("duration", 10)
    if not isinstance(duration, int) or duration not in model["durations"]:
        issue("duration", "Invalid duration")
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        issue("seed", f"Number must be between 0 and {SEED_MAX}")
    text = body.get("promptText")
    if text is not None and (
        not isinstance(text, str) or not text or len(text.encode("utf-16-le")) // 2 > 1000
    ):
        issue("promptText", "String must contain between 1 and 1000 UTF-16 code units")
    images = body.get("promptImage")
    if isinstance(images, str):
        images = [{"uri": images, "position": "first"}]
    if not isinstance(images, list) or not images:
        issue("promptImage", "Required")
        return issues
    positions = [image.get("position") for image in images if isinstance(image, dict)]
    if len(positions) != len(images) or len(set(positions)) != len(positions):
        issue("promptImage", "Each position may appear once")
    for image in images:
        if not isinstance(image, dict):
            continue
        if image.get("position") not in model["positions"]:
            issue("promptImage", f"Invalid position {image.get('position')!r} for this model")
        problem = asset_problem(image.get("uri"))
        if problem:
            issue("promptImage", problem)
    return issues


def asset_problem(uri: object, kind: str = "image", uploads: Container[str] = ()) -> str | None:
    """Runway's rules for one image (or video) asset (its 'Inputs' page)."""
    if not isinstance(uri, str):
        return "Invalid URL"
    if uri.startswith("runway://"):
        return None if uri in uploads else "Unknown or expired upload URI."
    if uri.startswith("data:"):
        if len(uri) >= MAX_DATA_URI:
            return "Data URI must be under 5MB"
        header, _, payload = uri[5:].partition(",")
        media_type = header.split(";")[0]
        allowed = (
            ("video/mp4", "video/quicktime", "video/webm")
            if kind == "video"
            else ("image/png", "image/jpeg", "image/jpg", "image/webp")
        )
        if media_type not in allowed:
            return "Unsupported asset type"
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "Invalid data URI."
        return None
    if not uri.startswith("https://"):
        return "Only HTTPS URLs are allowed."
    host = uri[8:].split("/")[0].split(":")[0]
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return "URLs must be hosted on a domain."
