"""The runway engine calls the endpoint of each request kind against the fake Runway (over real
HTTP), with the body Runway's published contract gives for the model: what the fake received is
checked field by field, and the task's video comes back."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_image, make_video
from tests.fakes.runway_server import FakeRunway
from tests.integration.test_upstream_engines import HandContext, runway_settings
from vidgen.core.catalog import BUILTIN_MODELS
from vidgen.core.engine import EngineJob
from vidgen.core.models import CapturedVideo, Kind
from vidgen.engines.runway import MAX_DATA_URI_CHARS, RunwayEngine
from vidgen.errors import EngineError
from vidgen.media.images import inspect_image


def captured_video(data: bytes) -> CapturedVideo:
    return CapturedVideo(
        data=data,
        media_type="video/mp4",
        width=64,
        height=36,
        fps=24.0,
        frame_count=24,
        duration=1.0,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def kind_job(model: str, kind: Kind, **fields: Any) -> EngineJob:
    base: dict[str, Any] = {
        "id": "job-1",
        "model": model,
        "prompt": "",
        "aspect_ratio": "16:9",
        "width": 1280,
        "height": 720,
        "fps": 24,
        "duration": 5,
        "frame_count": 120,
        "seed": 7,
        "first_image": None,
        "last_image": None,
        "kind": kind,
    }
    return EngineJob(**(base | fields))


async def run(tmp_path: Path, fake: FakeRunway, job: EngineJob) -> dict[str, Any]:
    engine = RunwayEngine(runway_settings(tmp_path, fake))
    for spec in BUILTIN_MODELS:
        if spec.id == job.model:
            assert engine.model_problem(spec) is None
    try:
        result = await engine.generate(job, HandContext(tmp_path))
    finally:
        await engine.aclose()
    [task] = fake.tasks.values()
    assert result.path.read_bytes() == fake.video_bytes(task.output_ratio)
    [created] = [r for r in fake.requests if r.method == "POST"]
    body: dict[str, Any] = created.body
    return {"path": created.path, **body}


def decoded(uri: str) -> bytes:
    return base64.b64decode(uri.partition(",")[2])


async def test_gen4_5_from_a_prompt_alone_is_a_text_to_video_task(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    job = kind_job("runway/gen4.5", Kind.TEXT_TO_VIDEO, prompt="a lighthouse at dusk", duration=6)
    sent = await run(tmp_path, fake_runway, job)
    assert sent == {
        "path": "/v1/text_to_video",
        "model": "gen4.5",
        "promptText": "a lighthouse at dusk",
        "ratio": "1280:720",
        "duration": 6,
        "seed": 7,
    }


async def test_aleph2_sends_the_input_video_and_keyframes_to_video_to_video(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    video = make_video()
    keyframe = make_image(64, 36, seed=3)
    job = kind_job(
        "runway/aleph2",
        Kind.VIDEO_TO_VIDEO,
        prompt="make it snow",
        video=captured_video(video),
        keyframes=((inspect_image(keyframe, max_pixels=10**8), 0.5, None),),
    )
    sent = await run(tmp_path, fake_runway, job)
    assert sent["path"] == "/v1/video_to_video"
    assert (sent["model"], sent["promptText"], sent["seed"]) == ("aleph2", "make it snow", 7)
    assert sent["videoUri"].startswith("data:video/mp4;base64,")
    assert decoded(sent["videoUri"]) == video
    [sent_keyframe] = sent["keyframes"]
    assert sent_keyframe["seconds"] == 0.5
    assert decoded(sent_keyframe["uri"]) == keyframe
    assert "ratio" not in sent and "duration" not in sent  # the output keeps the input's frame


async def test_act_two_sends_character_reference_and_its_options(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    character = make_image(64, 36, seed=5)
    performance = make_video(frames=72)
    job = kind_job(
        "runway/act_two",
        Kind.CHARACTER_PERFORMANCE,
        aspect_ratio="1:1",
        character=inspect_image(character, max_pixels=10**8),
        performance=captured_video(performance),
        options={"body_control": False, "expression_intensity": 4},
    )
    sent = await run(tmp_path, fake_runway, job)
    assert sent["path"] == "/v1/character_performance"
    assert sent["model"] == "act_two"
    assert sent["character"]["type"] == "image" and decoded(sent["character"]["uri"]) == character
    assert sent["reference"]["type"] == "video"
    assert decoded(sent["reference"]["uri"]) == performance
    assert sent["ratio"] == "960:960"
    assert (sent["bodyControl"], sent["expressionIntensity"]) == (False, 4)
    assert "promptText" not in sent and "duration" not in sent


async def test_magnific_upscales_the_input_video_with_its_options(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    video = make_video()
    job = kind_job(
        "magnific/video_upscaler_creative",
        Kind.UPSCALE,
        video=captured_video(video),
        options={"resolution": "4k", "fps_boost": True},
    )
    sent = await run(tmp_path, fake_runway, job)
    assert {k: v for k, v in sent.items() if k != "videoUri"} == {
        "path": "/v1/video_upscale",
        "model": "magnific_video_upscaler_creative",
        "resolution": "4k",
        "fpsBoost": True,
    }
    assert decoded(sent["videoUri"]) == video


async def test_a_video_over_runways_data_uri_limit_fails_the_job_naming_the_limit(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    big = captured_video(b"\0" * (MAX_DATA_URI_CHARS // 4 * 3 + 3))
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway))
    try:
        with pytest.raises(EngineError, match="5 MiB"):
            await engine.generate(
                kind_job("magnific/video_upscaler_creative", Kind.UPSCALE, video=big),
                HandContext(tmp_path),
            )
    finally:
        await engine.aclose()
    assert fake_runway.creations == 0
