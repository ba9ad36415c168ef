"""aimlapi's fields for the kinds beyond image to video, against vidgen on preview through the
aimlapi routes: ``runway/gen4_aleph`` video to video (``video_url``, ``references``,
``frame_size``), ``runway/act_two`` character performance (``character``, ``reference``,
``body_control``, ``expression_intensity``) and a Veo 3.1 first and last frame with its own fields.
Each ends ``completed`` and its MP4 decodes with PyAV at the planned size and frame count; bad
input gets aimlapi's error body naming the field as aimlapi spells it. Input videos are small
MP4s made with PyAV, sent as data URIs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.conftest import (
    LiveServer,
    data_uri,
    make_image,
    make_video,
    shared_server,
    wait_for_status,
)

pytestmark = pytest.mark.slow

KEYS = [f"vg_aimlapi_kinds_{n:02d}_" + "k" * 24 for n in range(2)]
IMAGE = data_uri(make_image(640, 360))
TAIL = data_uri(make_image(640, 360, seed=5))
#: 5 s at 24 fps, 64×36: gen4_aleph takes an input of at least 5 s.
CLIP = data_uri(make_video(64, 36, frames=120, fps=24), "video/mp4")
#: 3 s: act_two takes a performance of 3 to 30 s.
PERFORMANCE = data_uri(make_video(64, 36, frames=72, fps=24), "video/mp4")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from shared_server(tmp_path_factory, "aimlapi-kinds", KEYS)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEYS[0]}"}, timeout=60
    ) as http:
        yield http


def create(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post("/v2/video/generations", json=body)
    assert response.status_code == 200, response.text
    generation_id: str = response.json()["id"]
    return generation_id


def finished(client: httpx.Client, generation_id: str, tmp_path: Path) -> tuple[int, int, int]:
    """Poll until done, download the video, and read back its size and frame count."""
    answer: Any = wait_for_status(client, generation_id, timeout=180)
    assert answer["status"] == "completed", answer
    path = tmp_path / f"{generation_id}.mp4"
    path.write_bytes(httpx.get(answer["video"]["url"], timeout=30).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames


def refused(client: httpx.Client, body: dict[str, Any]) -> list[str]:
    response = client.post("/v2/video/generations", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["statusCode"] == 400 and error["path"] == "/v2/video/generations"
    return [problem["field"] for problem in error["errors"]]


def test_gen4_aleph_restyles_an_input_video_with_a_reference_image(
    client: httpx.Client, tmp_path: Path
) -> None:
    generation_id = create(
        client,
        {
            "model": "runway/gen4_aleph",
            "video_url": CLIP,
            "prompt": "in watercolour",
            "references": [{"type": "image", "url": IMAGE}],
            "frame_size": "960:960",
            "duration": 5,
            "seed": 7,
        },
    )
    # The output follows the input video: 5 s at 24 fps, at the frame size asked for.
    assert finished(client, generation_id, tmp_path) == (960, 960, 120)


def test_act_two_animates_a_character_image_for_as_long_as_the_performance(
    client: httpx.Client, tmp_path: Path
) -> None:
    generation_id = create(
        client,
        {
            "model": "runway/act_two",
            "character": {"type": "image", "url": IMAGE},
            "reference": {"type": "video", "url": PERFORMANCE},
            "frame_size": "1280:720",
            "body_control": True,
            "expression_intensity": 4,
        },
    )
    assert finished(client, generation_id, tmp_path) == (1280, 720, 72)


def test_veo_3_1_takes_its_last_image_and_its_own_fields(
    client: httpx.Client, tmp_path: Path
) -> None:
    generation_id = create(
        client,
        {
            "model": "google/veo-3.1-first-last-image-to-video",
            "prompt": "the light changes",
            "image_url": IMAGE,
            "last_image_url": TAIL,
            "duration": 4,
            "resolution": "720p",
            "generate_audio": False,
            "aspect_ratio": "16:9",
        },
    )
    assert finished(client, generation_id, tmp_path) == (1920, 1080, 96)


def test_an_upscale_and_a_frame_rate_model_take_their_input_video_as_video_url(
    client: httpx.Client, tmp_path: Path
) -> None:
    # These models do one thing, so `video_url` is an input to upscale (or re-time), not to
    # restyle, and their own options come under their catalog names.
    upscaled = create(
        client,
        {
            "model": "magnific/video_upscaler_creative",
            "video_url": PERFORMANCE,
            "resolution": "720p",
        },
    )
    retimed = create(
        client,
        {"model": "runway/enhance_frame_rate", "video_url": PERFORMANCE, "target_framerate": "48"},
    )
    assert finished(client, upscaled, tmp_path) == (1280, 720, 72)
    assert finished(client, retimed, tmp_path) == (64, 36, 144)


def test_bad_input_names_the_field_as_aimlapi_spells_it(client: httpx.Client) -> None:
    aleph = {"model": "runway/gen4_aleph", "prompt": "in watercolour", "video_url": CLIP}
    assert refused(client, {**aleph, "video_url": "data:video/mp4;base64,AAAA"}) == ["video_url"]
    assert refused(
        client, {**aleph, "references": [{"type": "image", "url": "ftp://example.com/a.png"}]}
    ) == ["references.0.url"]
    assert refused(client, {**aleph, "frame_size": "1000:1000"}) == ["frame_size"]
    assert refused(client, {**aleph, "references": [{"type": "video", "url": IMAGE}]}) == [
        "references.0.type"
    ]
    act = {
        "model": "runway/act_two",
        "character": {"type": "image", "url": IMAGE},
        "reference": {"type": "video", "url": PERFORMANCE},
    }
    assert refused(client, {**act, "expression_intensity": 9}) == ["expression_intensity"]
    # A character that is not an object is the character's problem, not its url's.
    assert refused(client, {**act, "character": "portrait.png"}) == ["character"]
    assert refused(client, {**act, "reference": {"type": "video", "url": IMAGE}}) == [
        "reference.url"
    ]
    # A field the model does not have is refused under its own name.
    assert refused(client, {**act, "generate_audio": True}) == ["generate_audio"]
