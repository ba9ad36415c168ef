"""A model only the upstream knows: the back vidgen serves it from an operator's catalog file, the
front vidgen reads the back's model list (``VIDGEN_AIMLAPI_READ_MODELS``) and lists it, forwards
a create for it with the model's own fields as sent, and reports the back's own refusal of those
fields as the generation's failure, uncharged, in each dialect's shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from tests.conftest import (
    OTHER_KEY,
    LiveServer,
    data_uri,
    free_port,
    live_server_env,
    make_image,
    wait_for_status,
)

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
options.camera_fixed = { type = "bool" }
options.motion = { type = "string", values = ["slow", "fast"] }
"""
MODEL = "acme/loop-2"


def _server(root: Path, name: str, **env: str) -> LiveServer:
    port = free_port()
    return LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / name,
        env=live_server_env(root / name, **env),
        log_path=root / f"{name}.log",
        port=port,
    )


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """(front, back): the back knows acme/loop-2 from its catalog file; the front only from
    the back's model list, and names one more model of its own list that the back lacks."""
    root = tmp_path_factory.mktemp("passthrough")
    (root / "acme.toml").write_text(CATALOG, encoding="utf-8")
    back = _server(root, "back", VIDGEN_CATALOG_FILES=str(root / "acme.toml"))
    back.start()
    front = _server(
        root,
        "front",
        VIDGEN_AIMLAPI_READ_MODELS="true",
        VIDGEN_AIMLAPI_MODELS="acme/listed-here",
        VIDGEN_UPSTREAM_URL=back.base_url,
        VIDGEN_UPSTREAM_KEY=OTHER_KEY,
        VIDGEN_UPSTREAM_POLL_INTERVAL="0.1",
        VIDGEN_UPSTREAM_BACKOFF_SECONDS="0.05",
    )
    try:
        front.start()
        yield front, back
    finally:
        front.stop()
        back.stop()


def test_vidgen_publishes_its_video_models_in_aimlapis_model_list_shape(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    _, back = servers
    listed = httpx.get(f"{back.base_url}/models", timeout=10)  # no key, as aimlapi's
    assert listed.status_code == 200, listed.text
    models = {m["id"]: m for m in listed.json()}
    assert models[MODEL]["type"] == "video"
    assert models[MODEL]["endpoints"] == ["/v2/video/generations"]
    assert models[MODEL]["info"]["name"] == "Acme Loop 2"
    assert "runway/gen4_turbo" in models


def test_a_model_only_the_upstream_lists_is_listed_and_served_with_its_own_fields(
    servers: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    front, _ = servers
    with front.client() as client:
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert models[MODEL]["engine"] == "aimlapi" and models[MODEL]["passthrough"] is True
        assert models["acme/listed-here"]["passthrough"] is True  # VIDGEN_AIMLAPI_MODELS
        assert models["runway/gen4_turbo"]["engine"] == "preview"  # the rest is unchanged

        created = client.post(
            "/v2/video/generations",
            json={
                "model": MODEL,
                "prompt": "a paper boat drifts",
                "image_url": data_uri(make_image(640, 360)),
                "aspect_ratio": "16:9",
                "duration": 3,
                "seed": 7,
                # Fields the aimlapi dialect has no name for: the back's own options.
                "camera_fixed": True,
                "motion": "slow",
            },
        )
        assert created.status_code in (200, 201), created.text
        done = wait_for_status(client, created.json()["id"], timeout=120)
    assert done["status"] == "completed", done
    assert done["meta"]["engine"] == "aimlapi"
    # The front has no price of its own for the model: 5 credits a second.
    assert done["meta"]["usage"]["credits_used"] == 15

    video = tmp_path / "out.mp4"
    video.write_bytes(httpx.get(done["video"]["url"], timeout=30).content)
    with av.open(str(video)) as container:
        frames = list(container.decode(video=0))
    # The back's frame size and count (3 s at 12 fps), not the front's nominal 16:9 frame.
    assert (frames[0].width, frames[0].height) == (640, 352)
    assert len(frames) == 36


def test_the_upstreams_refusal_of_the_fields_as_sent_is_the_generations_uncharged_failure(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    front, _ = servers
    with front.client() as client:
        # A model of the front's own catalog still refuses a field it does not take, at once.
        own = client.post(
            "/v2/video/generations",
            json={"model": "runway/gen4_turbo", "prompt": "x", "camera_fixed": True},
        )
        assert own.status_code == 400, own.text
        assert {"field": "camera_fixed", "message": "is not a known field"} in own.json()["errors"]
        # A stray field is named as the client spelled it, even where vidgen has a field of that
        # name under another spelling (its first image is aimlapi's image_url).
        stray = client.post(
            "/v2/video/generations",
            json={"model": "runway/gen4_turbo", "prompt": "x", "first_image": "x.png"},
        )
        assert stray.status_code == 400, stray.text
        assert stray.json()["errors"] == [
            {"field": "first_image", "message": "is not a known field"},
            {"field": "image_url", "message": "is required for runway/gen4_turbo"},
        ]

        # The front checks none of these: the back sees each as sent, and refuses each.
        refused = client.post(
            "/v2/video/generations",
            json={
                "model": MODEL,
                "image_url": data_uri(make_image(640, 360)),
                "duration": 5,
                "camera_fixed": "yes",
                "motion": "sideways",
                "colour": "red",
                "negative_prompt": "blur",
            },
        )
        assert refused.status_code in (200, 201), refused.text
        failed = wait_for_status(client, refused.json()["id"], timeout=60)
        task = client.get(
            f"/v1/tasks/{refused.json()['id']}", headers={"X-Runway-Version": "2024-11-06"}
        )
    assert failed["status"] == "error", failed
    assert failed["error"]["name"] == "UpstreamRejected"
    message = failed["error"]["message"]
    for words in (
        "duration: must be 2 or 3 seconds",
        "camera_fixed: must be a bool (got str)",
        "motion: must be one of slow, fast (got 'sideways')",
        "colour: is not a known field",
        "negative_prompt: is not an option of acme/loop-2",
    ):
        assert words in message, message
    assert failed["meta"]["usage"]["credits_used"] == 0  # refunded
    # Runway's dialect reads the same generation as a FAILED task with the back's words.
    assert task.status_code == 200, task.text
    assert task.json()["status"] == "FAILED"
    assert task.json()["failureCode"] == "UpstreamRejected"
    assert "camera_fixed: must be a bool" in task.json()["failure"]
