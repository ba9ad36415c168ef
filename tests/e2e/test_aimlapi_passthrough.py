"""A model only the upstream knows: the front vidgen names it in ``VIDGEN_AIMLAPI_MODELS``, the
back vidgen serves it from an operator's catalog file. The front lists it, forwards a create for
it to the back, and reports the back's own refusal of a field as the generation's failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import httpx
import pytest

from tests.conftest import OTHER_KEY, LiveServer, data_uri, make_image, wait_for_status

pytestmark = pytest.mark.slow

CATALOG = """
[[model]]
id = "acme/loop-2"
title = "Acme Loop 2"
kinds = ["image_to_video"]
sizes = { "16:9" = [640, 352], "1:1" = [400, 400] }
default_ratio = "1:1"
durations = [2, 3]
default_duration = 2
fps = 12
accepts_last_image = false
price = { per_second = "2" }
"""


def test_a_model_only_the_upstream_knows_is_listed_forwarded_and_refused_by_the_upstream(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(CATALOG, encoding="utf-8")
    back = live_server_factory(VIDGEN_CATALOG_FILES=str(path))
    back.start()
    front = live_server_factory(
        VIDGEN_AIMLAPI_MODELS="acme/loop-2",
        VIDGEN_UPSTREAM_URL=back.base_url,
        VIDGEN_UPSTREAM_KEY=OTHER_KEY,
        VIDGEN_UPSTREAM_POLL_INTERVAL="0.1",
        VIDGEN_UPSTREAM_BACKOFF_SECONDS="0.05",
    )
    front.start()
    with front.client() as client:
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert models["acme/loop-2"]["engine"] == "aimlapi"
        assert models["acme/loop-2"]["passthrough"] is True
        assert models["runway/gen4_turbo"]["engine"] == "preview"  # the rest is unchanged

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
        assert done["meta"]["engine"] == "aimlapi"
        # The front has no price of its own for the model: 5 credits a second.
        assert done["meta"]["usage"]["credits_used"] == 15

        # 5 s is no duration of the back's entry: the front accepted the create, so the back's
        # 400 comes back as the generation's failure, with the back's message.
        refused = client.post(
            "/v2/video/generations",
            json={
                "model": "acme/loop-2",
                "image_url": data_uri(make_image(640, 360)),
                "duration": 5,
            },
        )
        assert refused.status_code in (200, 201), refused.text
        failed = wait_for_status(client, refused.json()["id"], timeout=60)
        # The front has no list of the model's own fields: they go to the back as sent, and the
        # back's refusal names the field.
        optioned = client.post(
            "/v2/video/generations",
            json={
                "model": "acme/loop-2",
                "image_url": data_uri(make_image(640, 360)),
                "negative_prompt": "blur",
            },
        )
        assert optioned.status_code in (200, 201), optioned.text
        unoptioned = wait_for_status(client, optioned.json()["id"], timeout=60)
    assert unoptioned["status"] == "error", unoptioned
    assert "negative_prompt: is not an option of acme/loop-2" in unoptioned["error"]["message"]
    assert failed["status"] == "error", failed
    assert failed["error"]["name"] == "UpstreamRejected"
    assert "duration: must be 2 or 3 seconds" in failed["error"]["message"]
    assert failed["meta"]["usage"]["credits_used"] == 0  # refunded

    video = tmp_path / "out.mp4"
    video.write_bytes(httpx.get(done["video"]["url"], timeout=30).content)
    with av.open(str(video)) as container:
        frames = list(container.decode(video=0))
    # The back's frame size and count (3 s at 12 fps), not the front's nominal 16:9 frame.
    assert (frames[0].width, frames[0].height) == (640, 352)
    assert len(frames) == 36
