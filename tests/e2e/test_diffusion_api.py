"""A self-hosted model through the real API: ``vidgen serve`` with LTX-Video routed to the
diffusers engine and a tiny LTX pipeline (random weights, real frame size) in its weights
directory. Skipped, with the reason, where the gpu extra is not installed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

pytest.importorskip("diffusers", reason="the gpu extra (torch, diffusers) is not installed")

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status
from vidgen.media.video import probe_video

pytestmark = pytest.mark.slow

LTX = "ltx-video-0.9.7-distilled"


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from vidgen.engines.diffusion.architectures import build_pipeline

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path = tmp_path_factory.mktemp("weights") / LTX
        build_pipeline(LTX, seed=0).save_pretrained(path)
    finally:
        torch.set_num_threads(threads)
    return path


def poll(client: httpx.Client, gen_id: str) -> dict[str, object]:
    response = client.get("/v2/video/generations", params={"generation_id": gen_id})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def test_a_routed_open_model_renders_cancels_and_keeps_serving(
    live_server_factory: Callable[..., LiveServer], tiny_ltx: Path, tmp_path: Path
) -> None:
    server = live_server_factory(
        VIDGEN_ROUTES=f"{LTX}=diffusers",
        VIDGEN_MODEL_PATHS=f"{LTX}={tiny_ltx}",
        VIDGEN_GPU_DEVICE="cpu",
        VIDGEN_GPU_STEPS="16",
        OMP_NUM_THREADS="1",
    )
    server.start()
    body = {
        "model": LTX,
        "prompt": "slow zoom in on the summit",
        "image_url": data_uri(make_image(640, 360)),
        "aspect_ratio": "16:9",
        "duration": 1,
        "seed": 42,
    }
    with server.client() as client:
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert models[LTX]["engine"] == "diffusers"

        # A cancel mid-way: the job stops at its next step and is refunded. A worker sees a
        # cancel at its next heartbeat (up to a second), and the progress a poll shows is as old,
        # so this job is made long enough (97 frames, 16 steps of about half a second here) that
        # the cancel lands well inside its denoising on a machine several times faster.
        doomed = client.post("/v2/video/generations", json={**body, "duration": 4}).json()["id"]
        deadline = time.monotonic() + 180
        while True:
            state = poll(client, doomed)
            meta = state["meta"]
            assert isinstance(meta, dict)
            if state["status"] == "generating" and meta["progress"] > 0.1:
                break
            assert state["status"] in ("queued", "generating"), state
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        client.delete("/v2/video/generations", params={"generation_id": doomed})
        stopped = wait_for_status(client, doomed)
        assert stopped["status"] == "error"
        assert stopped["error"]["name"] == "Cancelled"  # type: ignore[index]
        assert stopped["meta"]["progress"] < 0.9  # type: ignore[index]

        # The worker and its warm model carry on: the next job renders, with rising progress.
        done_id = client.post("/v2/video/generations", json=body).json()["id"]
        seen: list[float] = []
        deadline = time.monotonic() + 180
        while True:
            state = poll(client, done_id)
            seen.append(state["meta"]["progress"])  # type: ignore[index]
            if state["status"] in ("completed", "error"):
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert state["status"] == "completed", state
        assert seen == sorted(seen)
        assert any(0 < p < 0.9 for p in seen), seen  # progress from the steps, not a jump
        assert state["meta"]["engine"] == "diffusers"  # type: ignore[index]
        video = tmp_path / "out.mp4"
        video.write_bytes(httpx.get(state["video"]["url"], timeout=30).content)  # type: ignore[index]
    info = probe_video(video)
    assert (info.width, info.height) == (1216, 704)
    assert info.frame_count == 25  # 1 s at 24 fps is 24 frames; LTX takes 8k+1
    assert info.fps == 24 and info.codec == "h264"
