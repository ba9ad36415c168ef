"""How the proxy engines translate: our requests into Runway's and aimlapi's bodies, their task
states and errors into ours, and images into data URIs within the providers' limits."""

from __future__ import annotations

import base64
import io
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from runwayml.types import image_to_video_create_params

from tests.conftest import make_image, make_settings
from vidgen.core.catalog import DEFAULT_MODELS
from vidgen.core.engine import EngineJob
from vidgen.core.models import CapturedVideo, GenerationRequest, ImageRef, Kind
from vidgen.engines.aimlapi import aimlapi_request, generation_status
from vidgen.engines.runway import (
    MAX_DATA_URI_CHARS,
    RunwayEngine,
    describe_api_error,
    runway_request,
    task_status,
)
from vidgen.engines.upstream import Phase, backoff_delay, parse_retry_after
from vidgen.errors import EngineError
from vidgen.media.data_uri import to_data_uri
from vidgen.media.images import inspect_image

SPECS = {spec.id: spec for spec in DEFAULT_MODELS}


def captured(data: bytes) -> Any:
    return inspect_image(data, max_pixels=100_000_000)


def job(model: str = "runway/gen4_turbo", **overrides: Any) -> EngineJob:
    values: dict[str, Any] = {
        "id": "job-1",
        "model": model,
        "prompt": "a slow pan",
        "aspect_ratio": "16:9",
        "width": 1280,
        "height": 720,
        "fps": 24,
        "duration": 5,
        "frame_count": 120,
        "seed": 7,
        "first_image": captured(make_image(320, 180)),
        "last_image": None,
    }
    values.update(overrides)
    return EngineJob(**values)


# -- Runway requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        ("16:9", "1280:720"),
        ("9:16", "720:1280"),
        ("4:3", "1104:832"),
        ("3:4", "832:1104"),
        ("1:1", "960:960"),
        ("21:9", "1584:672"),
    ],
)
def test_gen4_turbo_ratios_become_runways_pixel_ratios(ratio: str, expected: str) -> None:
    assert runway_request(job(aspect_ratio=ratio))["ratio"] == expected


@pytest.mark.parametrize(("ratio", "expected"), [("16:9", "1280:768"), ("9:16", "768:1280")])
def test_gen3a_turbo_ratios_become_runways_pixel_ratios(ratio: str, expected: str) -> None:
    assert runway_request(job("gen3a_turbo", aspect_ratio=ratio))["ratio"] == expected


def runway_literals(model_params: type, field: str) -> set[object]:
    """The values Runway's own SDK allows for ``field`` of one model's create params (its
    ``TypedDict``: ``Required[Literal[...]]``): Runway's published contract, not ours."""
    hint = typing.get_type_hints(model_params)[field]
    while typing.get_origin(hint) is not typing.Literal:
        (hint,) = typing.get_args(hint)[:1]
    return set(typing.get_args(hint))


def test_gen4_turbo_ratios_are_exactly_the_sizes_runways_sdk_accepts() -> None:
    engine = RunwayEngine(make_settings(Path("unused")))
    assert all(engine.model_problem(SPECS[m]) is None for m in ("runway/gen4_turbo", "gen3a_turbo"))
    spec = SPECS["runway/gen4_turbo"]
    sent = {runway_request(job(aspect_ratio=ratio))["ratio"] for ratio in spec.ratios}
    assert sent == runway_literals(image_to_video_create_params.Gen4Turbo, "ratio")
    # And each is the frame size vidgen renders and reports for that ratio.
    assert sent == {f"{w}:{h}" for w, h in spec.frame_sizes.values()}


def test_a_runway_body_carries_prompt_duration_seed_and_the_image_itself() -> None:
    image = make_image(320, 180, seed=4)
    body = runway_request(job(first_image=captured(image), duration=10, seed=99))
    assert body["model"] == "gen4_turbo"
    assert body["prompt_text"] == "a slow pan"
    assert (body["duration"], body["seed"]) == (10, 99)
    assert base64.b64decode(body["prompt_image"].partition(",")[2]) == image


def test_an_empty_prompt_is_left_out_rather_than_sent_empty() -> None:
    assert "prompt_text" not in runway_request(job(prompt="  "))


def test_a_tail_image_on_gen3a_becomes_the_last_position() -> None:
    body = runway_request(job("gen3a_turbo", last_image=captured(make_image(320, 180, seed=9))))
    assert [image["position"] for image in body["prompt_image"]] == ["first", "last"]


def test_a_tail_image_on_gen4_turbo_is_never_silently_dropped() -> None:
    with pytest.raises(EngineError, match="last frame"):
        runway_request(job(last_image=captured(make_image())))


def test_submit_refuses_a_tail_image_on_gen4_and_a_prompt_too_long_in_utf16(
    tmp_path: Path,
) -> None:
    engine = RunwayEngine(make_settings(tmp_path))
    image = ImageRef(url="https://example.com/a.png")
    tail = GenerationRequest(model="runway/gen4_turbo", first_image=image, last_image=image)
    [problem] = engine.validate(SPECS["runway/gen4_turbo"], tail)
    assert problem.field == "last_image" and "last-frame" in problem.text()
    assert engine.validate(SPECS["gen3a_turbo"], tail) == []
    emoji = GenerationRequest(model="gen3a_turbo", prompt="🌊" * 600, first_image=image)
    [problem] = engine.validate(SPECS["gen3a_turbo"], emoji)
    assert problem.field == "prompt" and "1200" in problem.reason


# -- Runway tasks and errors -----------------------------------------------------------------


def test_runway_task_states_map_to_ours() -> None:
    assert task_status({"status": "PENDING"}).phase is Phase.WAITING
    assert task_status({"status": "THROTTLED"}).phase is Phase.WAITING
    running = task_status({"status": "RUNNING", "progress": 0.4})
    assert (running.phase, running.progress) == (Phase.RUNNING, 0.4)
    done = task_status({"status": "SUCCEEDED", "output": ["https://cdn.example/v.mp4"]})
    assert (done.phase, done.output_url) == (Phase.SUCCEEDED, "https://cdn.example/v.mp4")
    failed = task_status({"status": "FAILED", "failure": "Nope.", "failureCode": "SAFETY.INPUT"})
    assert (failed.phase, failed.error_name, failed.error_message) == (
        Phase.FAILED,
        "SAFETY.INPUT",
        "Nope.",
    )
    assert task_status({"status": "FAILED"}).error_name == "FAILED"
    assert task_status({"status": "CANCELLED"}).phase is Phase.CANCELLED
    assert task_status({"status": "CANCELED"}).phase is Phase.CANCELLED
    with pytest.raises(EngineError, match="unknown task status"):
        task_status({"status": "EXPLODED"})


def test_runway_error_bodies_are_summarised_with_their_fields() -> None:
    body = {
        "error": "Validation of body failed",
        "issues": [{"message": "Invalid enum value", "path": ["ratio"]}],
    }
    assert describe_api_error(body) == "Validation of body failed; ratio: Invalid enum value"
    assert describe_api_error({"message": "quota"}) == "quota"
    assert describe_api_error("  plain text ") == "plain text"
    assert describe_api_error(None) == ""


# -- aimlapi ----------------------------------------------------------------------------------


def test_an_aimlapi_body_forwards_every_field_with_images_inline() -> None:
    last = make_image(320, 180, seed=3)
    body = aimlapi_request(job("gen3a_turbo", last_image=captured(last), aspect_ratio="9:16"))
    assert {k: v for k, v in body.items() if not k.endswith("_url")} == {
        "model": "gen3a_turbo",
        "prompt": "a slow pan",
        "aspect_ratio": "9:16",
        "duration": 5,
        "seed": 7,
    }
    assert base64.b64decode(body["tail_image_url"].partition(",")[2]) == last


def test_an_aimlapi_body_for_a_character_performance_carries_both_inputs_and_its_options() -> None:
    character = make_image(320, 180, seed=4)
    performance = CapturedVideo(
        data=b"mp4 bytes",
        media_type="video/mp4",
        width=64,
        height=36,
        fps=24.0,
        frame_count=72,
        duration=3.0,
        sha256="0" * 64,
    )
    body = aimlapi_request(
        job(
            "runway/act_two",
            kind=Kind.CHARACTER_PERFORMANCE,
            first_image=None,
            character=captured(character),
            performance=performance,
            options={"body_control": True, "expression_intensity": 4},
        )
    )
    assert body["character"]["type"] == "image"
    assert base64.b64decode(body["character"]["url"].partition(",")[2]) == character
    assert body["reference"] == {"type": "video", "url": "data:video/mp4;base64,bXA0IGJ5dGVz"}
    assert (body["body_control"], body["expression_intensity"]) == (True, 4)
    # Its length follows the performance: no duration is sent. Its size goes as aimlapi's
    # act_two and gen4_aleph documents name it, in pixels.
    assert "duration" not in body and "image_url" not in body
    assert body["frame_size"] == "1280:720" and "aspect_ratio" not in body


def test_aimlapi_statuses_map_to_ours() -> None:
    assert generation_status({"status": "queued"}).phase is Phase.WAITING
    assert generation_status({"status": "waiting"}).phase is Phase.WAITING
    running = generation_status({"status": "generating", "meta": {"progress": 0.5}})
    assert (running.phase, running.progress) == (Phase.RUNNING, 0.5)
    assert generation_status({"status": "generating", "meta": None}).progress is None
    done = generation_status({"status": "completed", "video": {"url": "https://x/v.mp4"}})
    assert done.output_url == "https://x/v.mp4"
    older = generation_status({"status": "completed", "video": ["https://x/old.mp4"]})
    assert older.output_url == "https://x/old.mp4"
    failed = generation_status({"status": "error", "error": {"name": "Boom", "message": "m"}})
    assert (failed.phase, failed.error_name, failed.error_message) == (Phase.FAILED, "Boom", "m")
    cancelled = generation_status({"status": "error", "error": {"name": "Cancelled"}})
    assert cancelled.phase is Phase.CANCELLED
    with pytest.raises(EngineError, match="unknown status"):
        generation_status({"status": "paused"})


# -- images inline ------------------------------------------------------------------------------


def test_a_small_upright_image_is_sent_as_its_own_bytes() -> None:
    data = make_image(320, 180)
    uri = to_data_uri(captured(data), max_chars=MAX_DATA_URI_CHARS)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.partition(",")[2]) == data


def test_an_image_too_large_to_inline_is_reencoded_as_jpeg_under_the_limit() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    image = captured(buffer.getvalue())
    limit = 1_000_000
    assert len(image.data) * 4 // 3 > limit
    uri = to_data_uri(image, max_chars=limit)
    assert len(uri) <= limit
    assert uri.startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.partition(",")[2]))) as sent:
        assert sent.width / sent.height == pytest.approx(2000 / 1500, rel=0.01)


def test_an_image_turned_by_exif_is_sent_upright() -> None:
    picture = Image.open(io.BytesIO(make_image(400, 200)))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif)
    image = captured(buffer.getvalue())
    assert (image.width, image.height) == (200, 400)
    uri = to_data_uri(image, max_chars=MAX_DATA_URI_CHARS)
    with Image.open(io.BytesIO(base64.b64decode(uri.partition(",")[2]))) as sent:
        assert sent.size == (200, 400)
        assert sent.getexif().get(0x0112, 1) == 1


def test_an_image_that_cannot_fit_is_refused_rather_than_mangled() -> None:
    with pytest.raises(ValueError, match="cannot be made smaller"):
        to_data_uri(captured(make_image(320, 180)), max_chars=100)


# -- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_is_capped_and_honours_retry_after() -> None:
    for failures, (low, high) in {1: (0.5, 1.0), 2: (1.0, 2.0), 4: (4.0, 8.0)}.items():
        delays = [backoff_delay(1.0, failures) for _ in range(200)]
        assert all(low <= d <= high for d in delays)
        assert len(set(delays)) > 100  # jittered, not a fixed schedule
    assert all(backoff_delay(1.0, 30) <= 30.0 for _ in range(50))
    assert backoff_delay(0.01, 1, retry_after=5.0) == 5.0
    assert backoff_delay(0.01, 1, retry_after=3600.0) < 1.0  # an absurd Retry-After is ignored
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
