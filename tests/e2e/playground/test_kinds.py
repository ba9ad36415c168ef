"""The playground's other kinds in a browser (see conftest.py): video to video, frame rate and
character performance, each from picked files, and their input videos' errors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import (
    ImageServer,
    LiveServer,
    make_image,
    make_video,
)
from tests.e2e.playground.conftest import (
    DATA_URI_CAP,
    VIDEO_CAP,
    Tab,
    raw_json_shown,
    use_key,
    wait_until_playing,
    write_image,
)

pytestmark = pytest.mark.slow


# -- the other kinds: video to video, character performance -------------------------------------


def pick_model(page: Page, model_id: str) -> None:
    page.locator(".model-card", has_text=model_id).click()
    expect(page.locator("input[name=model]:checked")).to_have_value(model_id)


def posted_body(page: Page, submit: Callable[[], None]) -> dict[str, Any]:
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/v2/video/generations")
    ) as posted:
        submit()
    body: dict[str, Any] = json.loads(posted.value.post_data or "{}")
    return body


def played_video(page: Page, tmp_path: Path) -> tuple[int, int, int]:
    """Wait until the result plays, download it, and read its size and frame count with PyAV."""
    expect(page.locator("#status-badge")).to_have_text("completed")
    wait_until_playing(page)
    href = page.get_by_role("link", name="Download MP4").get_attribute("href")
    assert href is not None
    path = tmp_path / "result.mp4"
    path.write_bytes(httpx.get(href, timeout=30).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, sum(1 for _ in container.decode(stream))


def noise_video(width: int, height: int, frames: int) -> bytes:
    """Noise does not compress: a short clip several times the servers' data-URI cap."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(3)
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            rgb = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def test_aleph2_restyles_a_picked_video_file_and_the_result_plays_as_long_as_it(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/aleph2")
    # The form asks for what the model takes: an input video, no frames, ratio or duration.
    expect(page.locator("#input-video")).to_be_visible()
    for hidden in ("#first-image", "#ratio-field", "#duration-field", "#character"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#submit-price")).to_have_text("15 credits/s")

    clip = tmp_path / "walk.mp4"
    clip.write_bytes(make_video(160, 90, frames=48, fps=24))
    page.locator("#input-video-file").set_input_files(clip)
    expect(page.locator("#input-video-note")).to_contain_text("160×90, 2.0 s")
    expect(page.locator("#input-video-note")).to_contain_text("sent inside the request")
    expect(page.locator("#input-video [data-role=video]")).to_be_visible()
    page.get_by_label("Prompt").fill("the same walk, in watercolour")
    body = posted_body(page, lambda: page.get_by_role("button", name="Generate").click())
    assert body["model"] == "runway/aleph2"
    assert body["video_url"].startswith("data:video/mp4;base64,")
    assert not {"image_url", "duration", "aspect_ratio"} & body.keys()

    # The output follows the input: its 16:9 shape at the model's size, and its 2 s.
    assert played_video(page, tmp_path) == (1280, 720, 48)
    assert tab.problems() == []


def test_a_frame_rate_model_takes_a_picked_video_and_its_target_rate_from_the_options(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/enhance_frame_rate")
    expect(page.locator("#input-video")).to_be_visible()
    clip = tmp_path / "walk.mp4"
    clip.write_bytes(make_video(160, 90, frames=24, fps=24))
    page.locator("#input-video-file").set_input_files(clip)
    expect(page.locator("#input-video-note")).to_contain_text("160×90, 1.0 s")
    page.get_by_label("Target framerate").select_option("48")
    body = posted_body(page, lambda: page.get_by_role("button", name="Generate").click())
    assert body["model"] == "runway/enhance_frame_rate"
    assert body["video_url"].startswith("data:video/mp4;base64,")
    assert body["target_framerate"] == "48"
    # The input's 1 s at twice its rate: twice its frames, at its own size.
    assert played_video(page, tmp_path) == (160, 90, 48)
    assert tab.problems() == []


def test_act_two_animates_a_character_image_with_an_uploaded_performance_and_its_options(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/act_two")
    expect(page.locator("#input-video")).to_be_hidden()
    page.locator("#character-file").set_input_files(
        write_image(tmp_path / "hero.png", make_image(360, 640, seed=3))
    )
    performance = noise_video(160, 90, frames=72)
    assert len(performance) > DATA_URI_CAP
    (tmp_path / "acting.mp4").write_bytes(performance)
    page.locator("#performance-file").set_input_files(tmp_path / "acting.mp4")
    # Over the server's data-URI cap: uploaded first, and the page says so.
    expect(page.locator("#performance-note")).to_contain_text("uploaded to this server first")
    # The model's own options, from /v1/models, with their defaults.
    body_control = page.get_by_label("Body control")
    expect(body_control).to_be_checked()
    intensity = page.get_by_label("Expression intensity")
    expect(intensity).to_have_value("3")
    # Out of its range: stopped in the page, and said beside it.
    intensity.fill("9")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#option-expression_intensity-error")).to_have_text(
        "Use a whole number from 1 to 5."
    )
    expect(intensity).to_be_focused()
    body_control.uncheck()
    intensity.fill("5")
    tab.screenshot("act-two.png")
    body = posted_body(page, lambda: page.get_by_role("button", name="Generate").click())
    assert body["character"]["type"] == "image"
    assert body["character"]["url"].startswith("data:image/png;base64,")
    assert body["reference"]["type"] == "video"
    assert body["reference"]["url"].startswith("runway://")
    assert (body["body_control"], body["expression_intensity"]) == (False, 5)

    # A portrait character makes a portrait video, as long as the 3 s performance.
    assert played_video(page, tmp_path) == (720, 1280, 72)
    assert tab.problems() == []


def test_a_missing_input_video_is_explained_next_to_the_video_field(
    server: LiveServer, open_tab: Callable[..., Tab], image_server: ImageServer
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/aleph2")
    url_field = page.get_by_label("…or a video URL for the input video")
    url_field.fill(f"{image_server.base_url}/missing.mp4")
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#input-video-error")
    expect(error).to_contain_text("404")
    expect(url_field).to_have_attribute("aria-invalid", "true")
    expect(url_field).to_be_focused()
    expect(page.locator("#submit-error")).to_contain_text("see the marked fields")
    assert not raw_json_shown(page)
    assert tab.problems(allow=(400, 404)) == []


def test_a_video_over_the_servers_cap_is_refused_beside_its_field_before_anything_is_sent(
    idle_server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(idle_server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/aleph2")
    big = noise_video(320, 180, frames=48)
    assert len(big) > VIDEO_CAP
    (tmp_path / "big.mp4").write_bytes(big)
    page.locator("#input-video-file").set_input_files(tmp_path / "big.mp4")
    error = page.locator("#input-video-error")
    expect(error).to_contain_text("this server takes input videos of at most 977 KB")
    expect(page.locator("#input-video [data-role=video]")).to_be_hidden()
    assert not [url for url in tab.requests if "/v1/uploads" in url]
    assert tab.problems() == []
