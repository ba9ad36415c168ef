"""A model that exists only in an operator's catalog file, with no code: ``vidgen serve`` with
``VIDGEN_CATALOG_FILES`` lists it in ``GET /v1/models`` and serves it end to end through the
aimlapi dialect, on ``preview``, at the file's frame size, frame rate and frame count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import httpx
import pytest

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status

pytestmark = pytest.mark.slow

CATALOG = """
prices_checked = "2026-12-04"

[[model]]
id = "acme/loop-2"
title = "Acme Loop 2"
kinds = ["image_to_video"]
sizes = { "16:9" = [640, 352], "1:1" = [400, 400] }
default_ratio = "1:1"
durations = [2, 3]
default_duration = 2
fps = 12
frame_step = 4
accepts_last_image = false
price = { per_second = "7/3" }
description = "Written in a file, served with no code."
"""


def test_a_model_from_a_catalog_file_alone_is_listed_and_served(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(CATALOG, encoding="utf-8")
    server = live_server_factory(VIDGEN_CATALOG_FILES=str(path))
    server.start()
    with server.client() as client:
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert models["acme/loop-2"]["engine"] == "preview"
        assert models["acme/loop-2"]["kinds"] == ["image_to_video"]
        assert models["acme/loop-2"]["credits"] == {"2": 5, "3": 7}
        # The built-in entries stay, with what the catalog says of each.
        assert models["runway/aleph2"]["kinds"] == ["video_to_video"]
        assert models["gen3a_turbo"]["retired"]["engine"] == "runway"
        assert models["runway/gen4.5"]["prices_checked"] == "2026-12-04"

        created = client.post(
            "/v2/video/generations",
            json={
                "model": "acme/loop-2",
                "prompt": "a paper boat drifts",
                "image_url": data_uri(make_image(640, 360)),
                "aspect_ratio": "16:9",
                "duration": 3,
                "seed": 7,
            },
        )
        assert created.status_code in (200, 201), created.text
        done = wait_for_status(client, created.json()["id"], timeout=120)
        assert done["status"] == "completed", done
        assert done["meta"]["usage"]["credits_used"] == 7  # type: ignore[index]  # ⌈7/3 × 3⌉
        refused = client.post(
            "/v2/video/generations",
            json={"model": "acme/loop-2", "image_url": data_uri(make_image()), "duration": 5},
        )
        assert refused.status_code == 400
        assert "duration" in refused.text
    video = tmp_path / "out.mp4"
    video.write_bytes(httpx.get(done["video"]["url"], timeout=30).content)  # type: ignore[index]
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(video=0))
        assert stream.average_rate == 12
    assert (frames[0].width, frames[0].height) == (640, 352)
    # 3 s at 12 fps on the file's 4k+1 grid: 37 frames.
    assert len(frames) == 37
