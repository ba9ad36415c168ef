"""The runway engine calls the endpoint of each request kind against the fake Runway (over real
HTTP), with the body Runway's published contract gives for the model: what the fake received is
checked field by field, and the task's video comes back."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import make_image, make_video
from tests.fakes.runway_server import API_VERSION, FAKE_KEY, FakeRunway
from tests.integration.test_upstream_engines import HandContext, runway_settings
from vidgen.core.catalog import BUILTIN_MODELS
from vidgen.core.engine import EngineJob
from vidgen.core.models import CapturedVideo, Kind
from vidgen.engines.runway import MAX_DATA_URI_CHARS, RunwayEngine
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
    [created] = [r for r in fake.requests if r.method == "POST" and not is_upload(r.path)]
    body: dict[str, Any] = created.body
    return {"path": created.path, **body}


def is_upload(path: str) -> bool:
    return path == "/v1/uploads" or path.startswith("/upload-target/")


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
    image = inspect_image(keyframe, max_pixels=10**8)
    # One keyframe at a moment in seconds, one at a fraction of the input's length: each
    # reaches Runway in the form the client gave (a fraction is not a number of seconds), with
    # its edit window.
    job = kind_job(
        "runway/aleph2",
        Kind.VIDEO_TO_VIDEO,
        prompt="make it snow",
        video=captured_video(video),
        keyframes=((image, 0.5, None, (0, 1)), (image, None, 0.75, (1, 2))),
    )
    sent = await run(tmp_path, fake_runway, job)
    assert sent["path"] == "/v1/video_to_video"
    assert (sent["model"], sent["promptText"], sent["seed"]) == ("aleph2", "make it snow", 7)
    assert sent["videoUri"].startswith("data:video/mp4;base64,")
    assert decoded(sent["videoUri"]) == video
    [in_seconds, as_fraction] = sent["keyframes"]
    assert {k: v for k, v in in_seconds.items() if k != "uri"} == {
        "seconds": 0.5,
        "range": {"start_seconds": 0, "end_seconds": 1},
    }
    assert {k: v for k, v in as_fraction.items() if k != "uri"} == {
        "at": 0.75,
        "range": {"start_seconds": 1, "end_seconds": 2},
    }
    assert decoded(in_seconds["uri"]) == decoded(as_fraction["uri"]) == keyframe
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


async def test_seedance2_takes_reference_images_with_a_prompt_alone(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    reference = make_image(64, 36, seed=4)
    job = kind_job(
        "bytedance/seedance2",
        Kind.TEXT_TO_VIDEO,
        prompt="a lighthouse",
        aspect_ratio="1280:720",
        duration=3,
        references=(inspect_image(reference, max_pixels=10**8),),
    )
    sent = await run(tmp_path, fake_runway, job)
    assert sent["path"] == "/v1/text_to_video"
    [sent_reference] = sent["references"]
    assert list(sent_reference) == ["uri"] and decoded(sent_reference["uri"]) == reference


async def test_seedance2_takes_its_input_video_as_prompt_video_and_plain_references(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    video = make_video()
    reference = make_image(64, 36, seed=4)
    job = kind_job(
        "bytedance/seedance2",
        Kind.VIDEO_TO_VIDEO,
        prompt="in watercolour",
        aspect_ratio="1280:720",
        video=captured_video(video),
        references=(inspect_image(reference, max_pixels=10**8),),
    )
    sent = await run(tmp_path, fake_runway, job)
    assert (sent["path"], sent["model"], sent["ratio"]) == (
        "/v1/video_to_video",
        "seedance2",
        "1280:720",
    )
    assert decoded(sent["promptVideo"]) == video and "videoUri" not in sent
    [sent_reference] = sent["references"]
    assert sent_reference.keys() == {"uri"} and decoded(sent_reference["uri"]) == reference


async def test_enhance_frame_rate_asks_video_upscale_for_the_target_rate(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    video = make_video()
    job = kind_job(
        "runway/enhance_frame_rate",
        Kind.FRAME_RATE,
        video=captured_video(video),
        options={"target_framerate": "60"},
    )
    sent = await run(tmp_path, fake_runway, job)
    assert {k: v for k, v in sent.items() if k != "videoUri"} == {
        "path": "/v1/video_upscale",
        "model": "enhance_frame_rate",
        "targetFramerate": "60",
    }
    assert decoded(sent["videoUri"]) == video


async def test_veo3_1_gets_its_first_and_last_frames_by_position(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    first, last = make_image(64, 36, seed=1), make_image(64, 36, seed=2)
    job = kind_job(
        "google/veo3.1",
        Kind.IMAGE_TO_VIDEO,
        prompt="the light changes",
        aspect_ratio="1280:720",
        duration=4,
        first_image=inspect_image(first, max_pixels=10**8),
        last_image=inspect_image(last, max_pixels=10**8),
    )
    sent = await run(tmp_path, fake_runway, job)
    assert (sent["path"], sent["model"], sent["duration"]) == ("/v1/image_to_video", "veo3.1", 4)
    images = sent["promptImage"]
    assert [image["position"] for image in images] == ["first", "last"]
    assert [decoded(image["uri"]) for image in images] == [first, last]


async def test_a_429_on_text_to_video_is_retried_and_throttled_is_waited_out(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    fake_runway.inject(429, 2, path="/v1/text_to_video", retry_after="0")
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway))
    ctx = HandContext(tmp_path)
    try:
        await engine.generate(kind_job("runway/gen4.5", Kind.TEXT_TO_VIDEO, prompt="a pier"), ctx)
    finally:
        await engine.aclose()
    assert len(fake_runway.seen("POST", "/v1/text_to_video")) == 3
    assert fake_runway.creations == 1
    assert ctx.waiting[:2] == [True, True] and ctx.waiting[-1] is False  # PENDING, THROTTLED


async def test_a_video_over_runways_data_uri_limit_is_uploaded_and_named_by_its_runway_uri(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    # One byte more than fits: its data URI would be over Runway's 5 MiB.
    size = (MAX_DATA_URI_CHARS - len("data:video/mp4;base64,")) // 4 * 3 + 1
    big = bytes(range(256)) * (size // 256) + b"\1" * (size % 256)
    job = kind_job("magnific/video_upscaler_creative", Kind.UPSCALE, video=captured_video(big))
    sent = await run(tmp_path, fake_runway, job)
    [(runway_uri, received)] = fake_runway.uploads.items()
    assert received == big
    assert sent["videoUri"] == runway_uri
    [started] = fake_runway.seen("POST", "/v1/uploads")
    assert started.body == {"filename": "input.mp4", "type": "ephemeral"}


async def test_the_fake_refuses_a_runway_uri_it_never_issued(fake_runway: FakeRunway) -> None:
    async with httpx.AsyncClient(base_url=fake_runway.base_url) as client:
        answer = await client.post(
            "/v1/video_upscale",
            json={"model": "magnific_video_upscaler_creative", "videoUri": "runway://uploads/x"},
            headers={"Authorization": f"Bearer {FAKE_KEY}", "X-Runway-Version": API_VERSION},
        )
    assert answer.status_code == 400
    assert answer.json()["issues"][0]["path"] == ["videoUri"]
