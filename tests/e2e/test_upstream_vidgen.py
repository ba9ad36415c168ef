"""vidgen in front of vidgen: the front routes models to the ``aimlapi`` engine, whose upstream is a
back vidgen running ``preview``. Both are real ``vidgen serve`` processes on loopback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.conftest import (
    OTHER_KEY,
    LiveServer,
    data_uri,
    make_image,
    make_video,
    wait_for_status,
)

pytestmark = pytest.mark.slow


def front_for(back: LiveServer, factory: Any, **env: str) -> LiveServer:
    """A vidgen whose two models (or those ``VIDGEN_ROUTES`` names) go to the back vidgen, under
    the back's key OTHER_KEY."""
    defaults = {
        "VIDGEN_ROUTES": "runway/gen4_turbo=aimlapi,gen3a_turbo=aimlapi",
        "VIDGEN_UPSTREAM_URL": back.base_url,
        "VIDGEN_UPSTREAM_KEY": OTHER_KEY,
        "VIDGEN_UPSTREAM_POLL_INTERVAL": "0.1",
        "VIDGEN_UPSTREAM_BACKOFF_SECONDS": "0.05",
    }
    front: LiveServer = factory(**(defaults | env))
    front.start()
    return front


def back_generations(back: LiveServer) -> list[dict[str, Any]]:
    """What the back vidgen holds for the front's key."""
    with back.client(OTHER_KEY) as client:
        data: list[dict[str, Any]] = client.get("/v2/video/generations").json()["data"]
    return data


def test_a_front_vidgen_proxies_to_a_back_vidgen_and_keeps_its_own_copy(
    live_server_factory: Any, tmp_path: Path
) -> None:
    back: LiveServer = live_server_factory()
    back.start()
    # Strict fetch rules, as in production: the back's plain-http loopback links are trusted
    # only because the back is the configured gateway.
    front = front_for(
        back,
        live_server_factory,
        VIDGEN_FETCH_ALLOW_HTTP="false",
        VIDGEN_FETCH_ALLOW_PRIVATE="false",
    )
    with front.client() as client:
        models = {m["id"]: m["engine"] for m in client.get("/v1/models").json()["data"]}
        assert models["runway/gen4_turbo"] == models["gen3a_turbo"] == "aimlapi"
        created = client.post(
            "/v2/video/generations",
            json={
                "model": "gen3a_turbo",
                "prompt": "push in",
                "image_url": data_uri(make_image(360, 640, seed=1)),
                "tail_image_url": data_uri(make_image(360, 640, seed=2)),
                "aspect_ratio": "9:16",
                "seed": 77,
            },
        )
        assert created.status_code == 200, created.text
        done = wait_for_status(client, created.json()["id"], timeout=60)
    assert done["status"] == "completed", done
    assert done["meta"]["engine"] == "aimlapi" and done["meta"]["seed"] == 77

    [upstream] = back_generations(back)  # one generation upstream, with every field forwarded
    assert upstream["status"] == "completed"
    assert upstream["meta"]["engine"] == "preview"
    assert (upstream["meta"]["model"], upstream["meta"]["seed"]) == ("gen3a_turbo", 77)
    assert upstream["meta"]["aspect_ratio"] == "9:16"
    theirs = httpx.get(upstream["video"]["url"], timeout=30).content
    ours = httpx.get(done["video"]["url"], timeout=30).content
    assert ours == theirs

    back.stop()  # our copy does not depend on the back any more
    kept = httpx.get(done["video"]["url"], timeout=30)
    assert kept.status_code == 200 and kept.content == theirs
    path = tmp_path / "front.mp4"
    path.write_bytes(kept.content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (768, 1280)
        assert stream.frames == 120


def test_a_job_queued_at_the_back_shows_queued_and_cancelling_it_cancels_it_there(
    live_server_factory: Any,
) -> None:
    # The back's only slot is held by a job that sleeps (the noop engine) for longer than the
    # test, so the forwarded job stays queued there until the cancel reaches it: no race with
    # the back's worker.
    back: LiveServer = live_server_factory(
        VIDGEN_WORKER_CONCURRENCY="1",
        VIDGEN_ROUTES="runway/gen4_turbo=noop",
        VIDGEN_SHUTDOWN_GRACE_SECONDS="0.5",
    )
    back.start()
    front = front_for(back, live_server_factory)
    image = data_uri(make_image())
    long_job = {"model": "runway/gen4_turbo", "image_url": image, "duration": 10}
    holder = {**long_job, "prompt": "sleep=60 hold the only slot"}
    with back.client() as client:
        assert client.post("/v2/video/generations", json=holder).status_code == 200
    with front.client() as client:
        gen_id = client.post("/v2/video/generations", json=long_job).json()["id"]
        deadline = time.monotonic() + 30
        while not (
            [g["status"] for g in back_generations(back)] == ["queued"]
            and client.get("/v2/video/generations", params={"generation_id": gen_id}).json()[
                "status"
            ]
            == "queued"
        ):
            assert time.monotonic() < deadline, "the forwarded job never showed queued"
            time.sleep(0.1)
        client.delete("/v2/video/generations", params={"generation_id": gen_id})
        done = wait_for_status(client, gen_id, timeout=30)
    assert done["status"] == "error" and done["error"]["name"] == "Cancelled", done
    [upstream] = back_generations(back)
    assert upstream["status"] == "error" and upstream["error"]["name"] == "Cancelled"


def test_a_video_to_video_job_reaches_the_back_vidgen_with_its_video_and_references(
    live_server_factory: Any, tmp_path: Path
) -> None:
    back: LiveServer = live_server_factory()
    back.start()
    front = front_for(
        back,
        live_server_factory,
        VIDGEN_ROUTES="runway/gen4_aleph=aimlapi,google/veo-3.1-first-last-image-to-video=aimlapi,"
        "runway/act_two=aimlapi",
    )
    clip = data_uri(make_video(64, 36, frames=120, fps=24), "video/mp4")
    with front.client() as client:
        aleph = client.post(
            "/v2/video/generations",
            json={
                "model": "runway/gen4_aleph",
                "prompt": "in watercolour",
                "video_url": clip,
                "references": [{"type": "image", "url": data_uri(make_image(64, 64, seed=3))}],
                "frame_size": "960:960",
                "seed": 5,
            },
        )
        assert aleph.status_code == 200, aleph.text
        veo = client.post(
            "/v2/video/generations",
            json={
                "model": "google/veo-3.1-first-last-image-to-video",
                "prompt": "dusk",
                "image_url": data_uri(make_image(640, 360, seed=1)),
                "last_image_url": data_uri(make_image(640, 360, seed=2)),
                "duration": 4,
                "resolution": "720p",
                "generate_audio": False,
            },
        )
        assert veo.status_code == 200, veo.text
        act = client.post(
            "/v2/video/generations",
            json={
                "model": "runway/act_two",
                "character": {"type": "image", "url": data_uri(make_image(64, 64, seed=4))},
                "reference": {"type": "video", "url": clip},
                "frame_size": "720:1280",
                "body_control": False,
                "expression_intensity": 2,
            },
        )
        assert act.status_code == 200, act.text
        done = wait_for_status(client, aleph.json()["id"], timeout=120)
        veo_done = wait_for_status(client, veo.json()["id"], timeout=120)
        act_done = wait_for_status(client, act.json()["id"], timeout=120)
    assert done["status"] == "completed", done
    assert veo_done["status"] == "completed", veo_done
    assert act_done["status"] == "completed", act_done
    assert done["meta"]["engine"] == act_done["meta"]["engine"] == "aimlapi"

    upstream = {g["meta"]["model"]: g for g in back_generations(back)}
    assert upstream["runway/gen4_aleph"]["status"] == "completed"
    assert upstream["runway/gen4_aleph"]["meta"]["aspect_ratio"] == "960:960"
    assert upstream["google/veo-3.1-first-last-image-to-video"]["status"] == "completed"
    # act_two's character, performance, size and options reached the back as the client sent them.
    assert upstream["runway/act_two"]["status"] == "completed"
    assert upstream["runway/act_two"]["meta"]["aspect_ratio"] == "9:16"
    acted = tmp_path / "act.mp4"
    acted.write_bytes(httpx.get(act_done["video"]["url"], timeout=30).content)
    with av.open(str(acted)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.width, stream.height, frames) == (720, 1280, 120)  # as long as the clip
    path = tmp_path / "aleph.mp4"
    path.write_bytes(httpx.get(done["video"]["url"], timeout=30).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.width, stream.height, frames) == (960, 960, 120)
