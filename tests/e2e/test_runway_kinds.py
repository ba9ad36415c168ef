"""Runway's create endpoints beyond image to video, with the official ``runwayml`` SDK (strict) as
the client against vidgen on preview: gen4.5 text to video, veo3.1 with a first and last frame,
aleph2 and seedance2 video to video (``videoUri`` and ``promptVideo``), act_two character
performance, an upscale and a frame-rate enhancement.
Each task ends SUCCEEDED, and the MP4 it links to has the planned size and frame count; bad input
gets Runway's error shape naming the field as Runway spells it. Input videos are small MP4s made
with PyAV, sent as data URIs or served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import runwayml

from tests.conftest import ImageServer, LiveServer, data_uri, make_image, make_video, shared_server

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

KEYS = [f"vg_runway_kinds_{n:02d}_" + "k" * 24 for n in range(4)]
IMAGE = data_uri(make_image(640, 360))
TAIL = data_uri(make_image(640, 360, seed=5))
#: 2 s at 24 fps, 64×36.
CLIP = data_uri(make_video(64, 36, frames=48, fps=24), "video/mp4")
#: 3 s: act_two takes a performance of 3 to 30 s.
PERFORMANCE = data_uri(make_video(64, 36, frames=72, fps=24), "video/mp4")
VERSION = {"X-Runway-Version": "2024-11-06"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from shared_server(tmp_path_factory, "runway-kinds", KEYS)


@pytest.fixture
def client(server: LiveServer) -> runwayml.RunwayML:
    return runwayml.RunwayML(
        api_key=KEYS[0], base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )


def finished(client: runwayml.RunwayML, task: Any, tmp_path: Path) -> tuple[int, int, int, float]:
    """Wait for the task, download its video, and read back its size, frame count and rate."""
    done = client.tasks.retrieve(task.id).wait_for_task_output(timeout=180)
    assert done.status == "SUCCEEDED", done
    path = tmp_path / f"{task.id}.mp4"
    path.write_bytes(httpx.get(done.output[0], timeout=30).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames, float(stream.average_rate or 0)


def test_gen4_5_makes_a_video_from_a_prompt_alone(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    task = client.text_to_video.create(
        model="gen4.5", prompt_text="a lighthouse at dusk", ratio="720:1280", duration=2
    )
    assert task.estimated_cost.credits == 2 * 12
    assert finished(client, task, tmp_path) == (720, 1280, 48, 24.0)


def test_veo3_1_goes_from_a_first_frame_to_a_last_one(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    task = client.image_to_video.create(
        model="veo3.1",
        prompt_image=[{"uri": IMAGE, "position": "first"}, {"uri": TAIL, "position": "last"}],
        prompt_text="the light changes",
        ratio="1280:720",
        duration=4,
        audio=False,
        negative_prompt="fog",
    )
    assert task.estimated_cost.credits == 4 * 40
    assert finished(client, task, tmp_path) == (1280, 720, 96, 24.0)


def test_aleph2_restyles_an_input_video_as_long_as_it_is(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    task = client.video_to_video.create(
        model="aleph2",
        video_uri=CLIP,
        prompt_text="in watercolour",
        keyframes=[{"uri": IMAGE, "at": 0.5, "range": {"start_seconds": 0, "end_seconds": 2}}],
    )
    assert task.estimated_cost.credits == 2 * 15
    # 16:9 from the input's shape; 2 s at 24 fps.
    assert finished(client, task, tmp_path) == (1280, 720, 48, 24.0)


def test_seedance2_takes_its_video_as_prompt_video_with_a_reference_image(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    task = client.video_to_video.create(
        model="seedance2",
        prompt_video=PERFORMANCE,
        prompt_text="in watercolour",
        ratio="1280:720",
        references=[{"uri": IMAGE}],
    )
    assert task.estimated_cost.credits == 3 * 36
    # As long as its 3 s input, at the size asked for.
    assert finished(client, task, tmp_path) == (1280, 720, 72, 24.0)


def test_act_two_animates_a_character_for_as_long_as_the_performance(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    task = client.character_performance.create(
        model="act_two",
        character={"type": "image", "uri": IMAGE},
        reference={"type": "video", "uri": PERFORMANCE},
        ratio="960:960",
        body_control=True,
        expression_intensity=4,
    )
    assert task.estimated_cost.credits == 3 * 5
    assert finished(client, task, tmp_path) == (960, 960, 72, 24.0)


def test_an_upscale_keeps_every_frame_at_the_resolution_asked_for(
    client: runwayml.RunwayML, tmp_path: Path, image_server: ImageServer
) -> None:
    # Served on loopback (allowed in tests), fetched under the same rules as an image.
    url = image_server.add("clip.mp4", make_video(64, 36, frames=48, fps=24), "video/mp4")
    task = client.video_upscale.create(
        model="magnific_video_upscaler_creative", video_uri=url, resolution="720p"
    )
    assert finished(client, task, tmp_path) == (1280, 720, 48, 24.0)
    assert image_server.hits == ["/clip.mp4"]


def test_a_frame_rate_enhancement_interpolates_to_the_target_rate(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    task = client.video_upscale.create(
        model="enhance_frame_rate", video_uri=CLIP, target_framerate="60"
    )
    assert finished(client, task, tmp_path) == (64, 36, 120, 60.0)


def test_reference_images_go_with_a_prompt_or_a_first_frame_where_the_sdk_takes_them(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    task = client.text_to_video.create(
        model="seedance2",
        prompt_text="a lighthouse in this style",
        ratio="1280:720",
        duration=3,
        references=[{"uri": IMAGE}],
    )
    assert finished(client, task, tmp_path) == (1280, 720, 72, 24.0)
    client.image_to_video.create(
        model="klingO3_standard",
        prompt_image=IMAGE,
        prompt_text="x",
        ratio="1280:720",
        duration=3,
        references=[{"uri": TAIL}],
    )
    with pytest.raises(runwayml.BadRequestError) as none_taken:
        client.post(
            "/v1/text_to_video",
            body={
                "model": "gen4.5",
                "promptText": "x",
                "ratio": "1280:720",
                "references": [{"uri": IMAGE}],
            },
            cast_to=httpx.Response,
            options={"headers": VERSION},
        )
    assert issues(none_taken.value) == [["references"]]


def test_a_models_own_fields_are_taken_as_the_sdk_types_them(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    # Fields the SDK gives one model only, sent by the SDK in its own spelling (cfgScale,
    # outputFormat, targetAspectRatio…), are that model's options in vidgen's catalog.
    kling = client.text_to_video.create(
        model="kling3.0_standard", prompt_text="x", ratio="1280:720", duration=3, cfg_scale=0.5
    )
    assert finished(client, kling, tmp_path) == (1280, 720, 72, 24.0)
    client.text_to_video.create(
        model="hailuo3", prompt_text="x", ratio="1360:768", duration=3, resolution="768p"
    )
    client.text_to_video.create(
        model="gen4.5", prompt_text="x", ratio="1280:720", duration=2, output_format="mp4"
    )
    client.video_to_video.create(
        model="aleph2", video_uri=CLIP, prompt_text="x", target_aspect_ratio="1:1"
    )
    client.video_to_video.create(
        model="gemini_omni_flash_1.1", video_uri=PERFORMANCE, prompt_text="x", mode="edit"
    )
    # What vidgen cannot make is refused under the SDK's name for it, as is a field no model has.
    with pytest.raises(runwayml.BadRequestError) as prores:
        client.text_to_video.create(
            model="gen4.5", prompt_text="x", ratio="1280:720", output_format="prores"
        )
    assert issues(prores.value) == [["outputFormat"]]
    with pytest.raises(runwayml.BadRequestError) as typo:
        client.post(
            "/v1/text_to_video",
            body={"model": "gen4.5", "promptText": "x", "ratio": "1280:720", "cfgScale": 0.5},
            cast_to=httpx.Response,
            options={"headers": VERSION},
        )
    assert issues(typo.value) == [["cfgScale"]]
    with pytest.raises(runwayml.BadRequestError) as misspelt:
        client.post(
            "/v1/text_to_video",
            body={
                "model": "kling3.0_standard",
                "promptText": "x",
                "ratio": "1280:720",
                "cfg_scale": 0.5,
            },
            cast_to=httpx.Response,
            options={"headers": VERSION},
        )
    assert issues(misspelt.value) == [["cfg_scale"]]
    with pytest.raises(runwayml.BadRequestError) as beyond:
        client.text_to_video.create(
            model="kling3.0_standard", prompt_text="x", ratio="1280:720", cfg_scale=2
        )
    assert issues(beyond.value) == [["cfgScale"]]
    # A field the SDK gives a model that vidgen does otherwise is refused saying why.
    with pytest.raises(runwayml.BadRequestError) as timed:
        client.video_to_video.create(
            model="seedance2", prompt_video=PERFORMANCE, prompt_text="x", duration=5
        )
    body = timed.value.body
    assert isinstance(body, dict) and body["issues"][0]["path"] == ["duration"]
    assert "follows the input video" in body["issues"][0]["message"]


def issues(error: runwayml.BadRequestError) -> list[list[str]]:
    body = error.body
    assert isinstance(body, dict) and body["error"] == "Validation of body failed", body
    return [issue["path"] for issue in body["issues"]]


BAD: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "a video to video without its video": (
        "/v1/video_to_video",
        {"model": "aleph2", "promptText": "x"},
        ["videoUri"],
    ),
    "too many references": (
        "/v1/video_to_video",
        {"model": "gen4_aleph", "videoUri": CLIP, "references": [{"uri": IMAGE}, {"uri": IMAGE}]},
        ["references"],
    ),
    "videoUri to a model that takes promptVideo": (
        "/v1/video_to_video",
        {"model": "seedance2", "videoUri": PERFORMANCE, "promptText": "x"},
        ["videoUri"],
    ),
    "promptVideo to a model that takes videoUri": (
        "/v1/video_to_video",
        {"model": "aleph2", "promptVideo": CLIP},
        ["promptVideo"],
    ),
    "a video to video without its promptVideo": (
        "/v1/video_to_video",
        {"model": "seedance2", "promptText": "x"},
        ["promptVideo"],
    ),
    "a promptVideo that is not a video": (
        "/v1/video_to_video",
        {
            "model": "seedance2",
            "promptVideo": data_uri(b"\x00\x00\x00\x18ftypmp42junk", "video/mp4"),
        },
        ["promptVideo"],
    ),
    "a Kling reference placed as a frame": (
        "/v1/video_to_video",
        {
            "model": "klingO3_4k",
            "promptVideo": CLIP,
            "promptText": "x",
            "references": [{"uri": IMAGE, "position": "first"}],
        },
        ["references", "0", "position"],
    ),
    "an option the model does not have": (
        "/v1/text_to_video",
        {"model": "gen4.5", "promptText": "x", "ratio": "1280:720", "audio": True},
        ["audio"],
    ),
    "an option out of its range": (
        "/v1/character_performance",
        {
            "model": "act_two",
            "character": {"type": "image", "uri": IMAGE},
            "reference": {"type": "video", "uri": PERFORMANCE},
            "expressionIntensity": 9,
        },
        ["expressionIntensity"],
    ),
    "a video over the duration limit": (
        "/v1/video_upscale",
        # 31 s (one frame a second) is over VIDGEN_MAX_VIDEO_SECONDS, 30 by default.
        {
            "model": "magnific_video_upscaler_creative",
            "videoUri": data_uri(make_video(32, 18, frames=31, fps=1), "video/mp4"),
        },
        ["videoUri"],
    ),
    "a performance too short": (
        "/v1/character_performance",
        {
            "model": "act_two",
            "character": {"type": "image", "uri": IMAGE},
            "reference": {"type": "video", "uri": CLIP},
        },
        ["reference"],
    ),
    "an image model's option on gen4_turbo": (
        "/v1/image_to_video",
        {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", "audio": True},
        ["audio"],
    ),
    "a keyframe outside its edit window": (
        "/v1/video_to_video",
        {
            "model": "aleph2",
            "videoUri": CLIP,
            "keyframes": [
                {"uri": IMAGE, "seconds": 1.5, "range": {"start_seconds": 0, "end_seconds": 1}}
            ],
        },
        ["keyframes", "0", "seconds"],
    ),
    "an edit window without its start, named as the SDK spells it": (
        "/v1/video_to_video",
        {
            "model": "aleph2",
            "videoUri": CLIP,
            "keyframes": [{"uri": IMAGE, "seconds": 1, "range": {"end_seconds": 2}}],
        },
        ["keyframes", "0", "range", "start_seconds"],
    ),
    "a NUL in the video's URL": (
        "/v1/video_to_video",
        {"model": "aleph2", "videoUri": "https://e.example/\x00.mp4"},
        ["videoUri"],
    ),
    "a model that does not do the endpoint's kind": (
        "/v1/text_to_video",
        {"model": "gen4_turbo", "promptText": "x", "ratio": "1280:720"},
        ["model"],
    ),
    "a file that is not a video": (
        "/v1/video_to_video",
        {"model": "aleph2", "videoUri": data_uri(b"\x00\x00\x00\x18ftypmp42junk", "video/mp4")},
        ["videoUri"],
    ),
}


@pytest.mark.parametrize(("path", "body", "field"), BAD.values(), ids=list(BAD))
def test_bad_input_is_refused_in_runways_shape_naming_the_field(
    client: runwayml.RunwayML, path: str, body: dict[str, Any], field: list[str]
) -> None:
    with pytest.raises(runwayml.BadRequestError) as refused:
        client.post(path, body=body, cast_to=httpx.Response, options={"headers": VERSION})
    assert field in issues(refused.value)


def test_a_refusal_names_the_model_as_runway_does_not_by_vidgens_catalog_id(
    client: runwayml.RunwayML,
) -> None:
    # gen4.5's image to video needs a prompt; the SDK sent `gen4.5`, not `runway/gen4.5`.
    with pytest.raises(runwayml.BadRequestError) as refused:
        client.post(
            "/v1/image_to_video",
            body={"model": "gen4.5", "promptImage": IMAGE, "ratio": "1280:720"},
            cast_to=httpx.Response,
            options={"headers": VERSION},
        )
    body = refused.value.body
    assert isinstance(body, dict), body
    assert body["issues"] == [
        {"path": ["promptText"], "message": "is required for gen4.5's image to video"}
    ]
