"""Which speed options each model gets, decided before its first job: the attention backend it
can run (read from every model's tiny and full-size architecture, the latter built on the meta
device), whether regional compile composes with the lossy options, and step caches that really
skip work. The compile checks trace with Dynamo as a GPU would (only the code generation is
skipped), which is where the failures measured on the H200 came from. Skipped, with the reason,
where the gpu extra is not installed."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the gpu extra (torch, diffusers) is not installed")
pytest.importorskip("diffusers", reason="the gpu extra (torch, diffusers) is not installed")

from diffusers import LTX2VideoTransformer3DModel, WanTransformer3DModel  # noqa: E402
from PIL import Image  # noqa: E402

from vidgen.engines.diffusion.architectures import build_pipeline  # noqa: E402
from vidgen.engines.diffusion.render import (  # noqa: E402
    DiffusionRuntime,
    EngineOptions,
    RenderRequest,
)
from vidgen.engines.diffusion.tuning import (  # noqa: E402
    CUDNN,
    NATIVE,
    attention_head_dims,
    choose_attention,
)
from vidgen.errors import JobCancelled  # noqa: E402
from vidgen.settings import Settings  # noqa: E402

WAN = "wan2.1-i2v-14b-480p"
WAN5B = "wan2.2-ti2v-5b"
WAN22 = "wan2.2-i2v-a14b-480p"
LTX = "ltx-video-0.9.7-distilled"
LTX2 = "ltx-2.3-distilled"
HUNYUAN = "hunyuanvideo-1.5-i2v-480p"
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- the attention backend -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size", "widths"),
    [
        (WAN, "full", {128}),
        (WAN5B, "full", {128}),
        (WAN22, "full", {128}),
        (LTX, "full", {128}),
        (LTX2, "full", {128, 64}),  # the video stream's heads, the audio stream's
        (HUNYUAN, "full", {128}),
        (WAN, "tiny", {16}),
        (WAN5B, "tiny", {16}),
        (WAN22, "tiny", {16}),
        (LTX, "tiny", {8}),
        (LTX2, "tiny", {16, 8}),
        (HUNYUAN, "tiny", {16}),
    ],
)
def test_auto_attention_is_cudnn_on_a_gpu_for_every_model_whose_heads_all_fit(
    model: str, size: Any, widths: set[int]
) -> None:
    """The published architectures have heads 128 wide (LTX-2's audio stream: 64), the tiny
    test models 16 or 8: cuDNN attention runs all of them."""
    pipe = build_pipeline(model, size=size, device="meta", dtype=torch.bfloat16)
    assert attention_head_dims(pipe) == widths
    choice = choose_attention(pipe, "auto", CUDA, torch.bfloat16)
    assert choice.backend == CUDNN


def _tiny_wan_with_heads(width: int) -> Any:
    pipe = build_pipeline(WAN, device="meta")
    pipe.register_modules(
        transformer=WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=width,
            in_channels=36,
            out_channels=16,
            text_dim=32,
            ffn_dim=32,
            num_layers=1,
            image_dim=4,
        )
    )
    return pipe


def test_auto_attention_falls_back_to_native_where_a_head_does_not_fit_cudnn() -> None:
    """Heads 12 wide (the tiny models' width that failed on the H200): no cuDNN kernel."""
    choice = choose_attention(_tiny_wan_with_heads(12), "auto", CUDA, torch.bfloat16)
    assert choice.backend == NATIVE
    assert "[12]" in choice.reason and "multiples of 8" in choice.reason


def test_auto_attention_reads_ltx2s_audio_heads_too() -> None:
    pipe = build_pipeline(LTX2, device="meta")
    with torch.device("meta"):
        pipe.register_modules(
            transformer=LTX2VideoTransformer3DModel(
                in_channels=8,
                out_channels=8,
                num_attention_heads=2,
                attention_head_dim=16,  # the video stream fits...
                cross_attention_dim=32,
                audio_in_channels=8,
                audio_out_channels=8,
                audio_num_attention_heads=2,
                audio_attention_head_dim=12,  # ...the audio stream does not
                audio_cross_attention_dim=24,
                num_layers=1,
                caption_channels=16,
            )
        )
    choice = choose_attention(pipe, "auto", CUDA, torch.bfloat16)
    assert choice.backend == NATIVE and "[12]" in choice.reason


def test_auto_attention_is_native_off_cuda_and_in_float32() -> None:
    pipe = build_pipeline(WAN, device="meta")
    assert choose_attention(pipe, "auto", torch.device("cpu"), torch.float32).backend == NATIVE
    assert choose_attention(pipe, "auto", CUDA, torch.float32).backend == NATIVE
    assert choose_attention(pipe, "auto", CUDA, torch.float16).backend == CUDNN


def test_a_configured_backend_is_kept_and_a_cudnn_misfit_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipe = _tiny_wan_with_heads(12)
    with caplog.at_level(logging.WARNING, logger="vidgen.engines.diffusion.tuning"):
        assert choose_attention(pipe, CUDNN, CUDA, torch.bfloat16).backend == CUDNN
    assert any("[12]" in getattr(r, "reason", "") for r in caplog.records)
    assert choose_attention(pipe, "flash", CUDA, torch.bfloat16).backend == "flash"
    assert choose_attention(pipe, None, CUDA, torch.bfloat16).backend is None


def test_the_engine_logs_the_backend_it_picked_and_why(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="vidgen.engines.diffusion.render"):
        runtime = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32))
        runtime.adopt(WAN, build_pipeline(WAN))
    (record,) = [r for r in caplog.records if r.getMessage() == "attention backend"]
    assert getattr(record, "backend", None) == "default"  # on the CPU, diffusers' own


# -- regional compile and the lossy options -------------------------------------------------


@pytest.mark.parametrize(
    ("fp8", "cache", "compiled"),
    [
        (False, "none", True),
        (False, "taylorseer", False),
        (False, "first-block", False),
        (True, "none", False),
        (True, "taylorseer", False),
    ],
)
def test_on_a_gpu_regional_compile_is_off_with_fp8_or_a_step_cache_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fp8: bool, cache: Any, compiled: bool
) -> None:
    settings = Settings(
        data_dir=tmp_path, gpu_device="cuda", gpu_fp8=fp8, gpu_lossy_cache=cache
    )  # a value only: nothing here touches CUDA
    with caplog.at_level(logging.INFO, logger="vidgen.engines.diffusion.render"):
        options = EngineOptions.from_settings(settings)
    assert options.compile is compiled
    # The other lossless speed-ups stay: cuDNN attention where the model allows, fused QKV.
    assert options.fuse_projections and options.attention == "auto"
    assert (options.fp8, options.lossy_cache) == (fp8, cache)
    reasons = [getattr(r, "reason", "") for r in caplog.records if "compile is off" in r.message]
    assert bool(reasons) is not compiled
    if fp8:
        assert "FP8" in reasons[0]
    if cache != "none":
        assert ("first-block" if cache == "first-block" else "TaylorSeer") in reasons[0]


def test_off_cuda_or_unoptimized_nothing_is_compiled_fused_or_forced(tmp_path: Path) -> None:
    for settings in (
        Settings(data_dir=tmp_path, gpu_device="cpu"),
        Settings(data_dir=tmp_path, gpu_device="cuda", gpu_optimize=False),
    ):
        options = EngineOptions.from_settings(settings)
        assert not options.compile and not options.fuse_projections
        assert options.attention is None
    explicit = EngineOptions.from_settings(
        Settings(data_dir=tmp_path, gpu_device="cuda:1", gpu_attention="flash")
    )
    assert explicit.attention == "flash" and explicit.compile


def request(model: str = WAN, seed: int = 2) -> RenderRequest:
    return RenderRequest(
        model_id=model,
        prompt="a dog runs on the beach",
        width=64,
        height=64,
        num_frames=25 if model.startswith("ltx") else 17,
        fps=16,
        seed=seed,
        first_image=Image.new("RGB", (64, 64), (200, 120, 40)),
    )


def frames(runtime: DiffusionRuntime, path: Path, model: str = WAN, **kwargs: Any) -> np.ndarray:
    chunks: list[np.ndarray] = []
    runtime.render(request(model), path, frame_sink=chunks.append, **kwargs)
    return np.concatenate(chunks)


@pytest.mark.parametrize(
    ("fp8", "cache"), [(True, "none"), (False, "first-block"), (False, "taylorseer")]
)
def test_each_lossy_option_renders_with_the_gpu_defaults_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fp8: bool, cache: Any
) -> None:
    """The options a GPU resolves (fused projections, regional compile asked for) plus one lossy
    option. Dynamo traces with its eager backend: the same tracing as on a GPU, without the
    code generation a CPU test has no time for."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    options = EngineOptions(
        device="cpu",
        dtype=torch.float32,
        steps=5,
        fuse_projections=True,
        compile=True,
        fp8=fp8,
        lossy_cache=cache,
    )
    runtime = DiffusionRuntime(options)
    runtime.adopt(WAN, build_pipeline(WAN, seed=3))
    assert frames(runtime, tmp_path / "x.mp4").shape == (17, 64, 64, 3)


def test_fp8_weights_with_fused_projections_render(tmp_path: Path) -> None:
    """Fused layers are made from the weights as they are: fused after the FP8 cast, they would
    hold FP8 weights without the cast's hooks."""
    runtime = DiffusionRuntime(
        EngineOptions(device="cpu", dtype=torch.bfloat16, steps=2, fuse_projections=True, fp8=True)
    )
    runtime.adopt(WAN, build_pipeline(WAN, seed=3, dtype=torch.bfloat16))
    assert frames(runtime, tmp_path / "x.mp4").shape == (17, 64, 64, 3)


# -- step caches that skip work ------------------------------------------------------------


def block_runs(pipe: Any, model: str, runtime: DiffusionRuntime, path: Path) -> int:
    """How many times the transformer's first block really ran (its first child's forwards)."""
    blocks = getattr(pipe.transformer, "blocks", None) or pipe.transformer.transformer_blocks
    counter: Counter[str] = Counter()
    child = next(blocks[0].children())
    handle = child.register_forward_pre_hook(lambda *_: counter.update(["run"]))
    try:
        frames(runtime, path, model)
    finally:
        handle.remove()
    return counter["run"]


@pytest.mark.parametrize("model", [WAN, LTX, LTX2, HUNYUAN])
def test_the_taylorseer_cache_skips_the_blocks_on_most_steps_of_every_model(
    tmp_path: Path, model: str
) -> None:
    """8 steps: full at 0, 1, 2 and 4 (diffusers' default schedule), predicted at 3, 5, 6, 7."""
    runs = {}
    for cache in ("none", "taylorseer"):
        pipe = build_pipeline(model, seed=3)
        runtime = DiffusionRuntime(
            EngineOptions(device="cpu", dtype=torch.float32, steps=8, lossy_cache=cache)
        )
        runtime.adopt(model, pipe)
        runs[cache] = block_runs(pipe, model, runtime, tmp_path / f"{cache}.mp4")
    assert runs["taylorseer"] * 2 == runs["none"]


@pytest.mark.parametrize("cache", ["taylorseer", "first-block"])
def test_after_a_cancelled_job_the_next_job_renders_as_on_a_fresh_model(
    tmp_path: Path, cache: Any
) -> None:
    """A step cache's state belongs to its job: a job cancelled mid-way leaves none of it."""
    options = EngineOptions(device="cpu", dtype=torch.float32, steps=10, lossy_cache=cache)
    fresh = DiffusionRuntime(options)
    fresh.adopt(WAN, build_pipeline(WAN, seed=3))
    expected = frames(fresh, tmp_path / "fresh.mp4")
    runtime = DiffusionRuntime(options)
    runtime.adopt(WAN, build_pipeline(WAN, seed=3))
    checks = iter(range(100))
    with pytest.raises(JobCancelled):
        runtime.render(request(seed=7), tmp_path / "x.mp4", should_stop=lambda: next(checks) > 6)
    assert np.array_equal(frames(runtime, tmp_path / "after.mp4"), expected)
