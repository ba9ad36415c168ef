"""Self-hosted models through the real API: ``vidgen serve`` with a model routed to the diffusers
engine and its tiny pipeline (random weights, the real frame sizes) in its weights directory.
Per model: a job renders, its progress never going back, and the MP4, decoded with PyAV, has
the model's frame count, size and frame rate, and the model's sound where it makes any. One
model (LTX-Video, whose steps are the cheapest here) also shows a job cancelled mid-way through
the API, seen between its steps and stopping before its end, with the worker serving on. That a
cancel stops each other model at its next step, and that progress rises step by step, are the
engine's rules, tested per model in ``tests/unit/test_diffusion_engine.py``: through the API,
progress is stored once a heartbeat, so whether a poll sees a step between two others depends
on how fast the machine runs them, which no test here asserts. Skipped, with the reason, where the gpu extra is not
installed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the gpu extra (torch, diffusers) is not installed")

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status
from vidgen.media.video import probe_audio, probe_video

pytestmark = pytest.mark.slow

LTX = "ltx-video-0.9.7-distilled"
WAN22 = "wan2.2-i2v-a14b-480p"
LTX2 = "ltx-2.3-distilled"
HUNYUAN = "hunyuanvideo-1.5-i2v-480p"


@dataclass(frozen=True)
class Case:
    """One model's run: its steps, the duration of a job to cancel (None: no cancel here), and
    what the finished 1 s clip must be. Two steps are the fewest a scheduler runs as it
    would; a model that is cancelled mid-way needs enough steps for a cancel seen at the next
    heartbeat, up to a second later, to land inside the denoising on a machine several times
    faster than CI."""

    steps: int
    ratio: str
    size: tuple[int, int]
    fps: int
    frames: int  # 1 s at the model's fps, on its 4k+1 or 8k+1 grid
    sound: bool = False
    cancel_duration: int | None = None


CASES = {
    # 97 frames, 16 steps of about half a second here.
    LTX: Case(steps=16, ratio="16:9", size=(1216, 704), fps=24, frames=25, cancel_duration=4),
    # A step of a tiny expert at 832×480 takes seconds on one core.
    WAN22: Case(steps=2, ratio="16:9", size=(832, 480), fps=16, frames=17),
    # The finished clip has its sound.
    LTX2: Case(steps=2, ratio="3:2", size=(768, 512), fps=24, frames=25, sound=True),
    # Its 11k-token steps take several seconds each here.
    HUNYUAN: Case(steps=2, ratio="16:9", size=(848, 480), fps=24, frames=25),
}


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch

    from vidgen.engines.diffusion.architectures import build_pipeline

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    saved = {}
    try:
        root = tmp_path_factory.mktemp("weights")
        for model in CASES:
            pipe = build_pipeline(model, seed=0)
            if model == HUNYUAN:
                # The tiny transformer sizes its buckets at 64² pixels, for fast unit tests;
                # the API serves the real frame sizes, which are buckets of the real 640.
                pipe.transformer.register_to_config(target_size=640)
            saved[model] = root / model
            pipe.save_pretrained(saved[model])
    finally:
        torch.set_num_threads(threads)
    return saved


def poll(client: httpx.Client, gen_id: str) -> dict[str, object]:
    response = client.get("/v2/video/generations", params={"generation_id": gen_id})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def serve(factory: Callable[..., LiveServer], model: str, weights: Path) -> LiveServer:
    server = factory(
        VIDGEN_ROUTES=f"{model}=diffusers",
        VIDGEN_MODEL_PATHS=f"{model}={weights}",
        VIDGEN_GPU_DEVICE="cpu",
        VIDGEN_GPU_STEPS=str(CASES[model].steps),
        VIDGEN_JOB_TIMEOUT_SECONDS="900",
        OMP_NUM_THREADS="1",
    )
    server.start()
    return server


def cancel_mid_way(client: httpx.Client, body: dict[str, object]) -> None:
    """A job cancelled mid-way stops at its next step, before its end."""
    doomed = client.post("/v2/video/generations", json=body).json()["id"]
    deadline = time.monotonic() + 600
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
    stopped = wait_for_status(client, doomed, timeout=300)
    assert stopped["status"] == "error"
    assert stopped["error"]["name"] == "Cancelled"  # type: ignore[index]
    assert stopped["meta"]["progress"] < 0.9  # type: ignore[index]


@pytest.mark.parametrize("model", list(CASES))
def test_a_routed_open_model_renders_at_its_real_size_and_rate(
    live_server_factory: Callable[..., LiveServer],
    tiny_weights: dict[str, Path],
    tmp_path: Path,
    model: str,
) -> None:
    case = CASES[model]
    server = serve(live_server_factory, model, tiny_weights[model])
    body = {
        "model": model,
        "prompt": "slow zoom in on the summit",
        "image_url": data_uri(make_image(640, 360)),
        "aspect_ratio": case.ratio,
        "duration": 1,
        "seed": 42,
    }
    with server.client() as client:
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert models[model]["engine"] == "diffusers"

        if case.cancel_duration is not None:
            cancel_mid_way(client, {**body, "duration": case.cancel_duration})

        # The next job renders (after a cancel: the worker and its warm model carry on), its
        # progress never going back.
        done_id = client.post("/v2/video/generations", json=body).json()["id"]
        seen: list[float] = []
        deadline = time.monotonic() + 600
        while True:
            state = poll(client, done_id)
            seen.append(state["meta"]["progress"])  # type: ignore[index]
            if state["status"] in ("completed", "error"):
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert state["status"] == "completed", state
        assert seen == sorted(seen)
        assert state["meta"]["engine"] == "diffusers"  # type: ignore[index]
        video = tmp_path / "out.mp4"
        video.write_bytes(httpx.get(state["video"]["url"], timeout=30).content)  # type: ignore[index]
    info = probe_video(video)
    assert (info.width, info.height) == case.size
    assert info.frame_count == case.frames
    assert info.fps == case.fps and info.codec == "h264"
    sound = probe_audio(video)
    if case.sound:
        assert sound is not None and sound.codec == "aac"
        with av.open(str(video)) as container:
            samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
        assert samples.shape[0] == 2
        assert abs(samples.shape[1] / sound.sample_rate - case.frames / case.fps) < 0.1
        assert np.abs(samples).max() > 0  # random weights make noise, not silence
    else:
        assert sound is None


def test_a_prompt_alone_becomes_a_video_with_sound_through_the_openai_dialect(
    live_server_factory: Callable[..., LiveServer], tiny_weights: dict[str, Path], tmp_path: Path
) -> None:
    server = serve(live_server_factory, LTX2, tiny_weights[LTX2])
    with server.client() as client:
        created = client.post(
            "/v1/videos",
            json={"model": LTX2, "prompt": "rain on a tin roof", "seconds": "1", "size": "768x512"},
        )
        assert created.status_code == 200, created.text
        video_id = created.json()["id"]
        deadline = time.monotonic() + 300
        while (state := client.get(f"/v1/videos/{video_id}").json())["status"] not in (
            "completed",
            "failed",
        ):
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["status"] == "completed", state
        content = client.get(f"/v1/videos/{video_id}/content")
        assert content.status_code == 200
    path = tmp_path / "text.mp4"
    path.write_bytes(content.content)
    info, sound = probe_video(path), probe_audio(path)
    assert (info.width, info.height, info.frame_count, info.fps) == (768, 512, 25, 24)
    assert sound is not None and sound.codec == "aac" and sound.channels == 2
