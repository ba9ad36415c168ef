"""The diffusers engine on a CUDA GPU: what only a GPU can show. Skipped, with the reason,
everywhere else (CI has no GPU); run on a GPU machine with ``pytest tests/gpu``.

Tiny pipelines still: the point is the CUDA paths (bf16, cuDNN attention, fused projections,
regional compile, pinned-memory streaming decode, memory given back after a cancel, offloading),
not speed, which ``bench/diffusion.py`` measures on full-size models. The tiny models' heads are
16 or 8 wide, so cuDNN attention runs them as it runs the real models' 128."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the gpu extra (torch, diffusers) is not installed")
pytest.importorskip("diffusers", reason="the gpu extra (torch, diffusers) is not installed")

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)

from diffusers import WanTransformer3DModel  # noqa: E402
from PIL import Image  # noqa: E402

from vidgen.engines.diffusion.architectures import build_pipeline  # noqa: E402
from vidgen.engines.diffusion.render import (  # noqa: E402
    DiffusionRuntime,
    EngineOptions,
    RenderRequest,
)
from vidgen.engines.diffusion.tuning import CUDNN, NATIVE  # noqa: E402
from vidgen.errors import JobCancelled  # noqa: E402
from vidgen.media.video import probe_video  # noqa: E402

MODELS = [
    "wan2.1-i2v-14b-480p",
    "wan2.2-ti2v-5b",
    "ltx-video-0.9.7-distilled",
    "wan2.2-i2v-a14b-480p",
    "ltx-2.3-distilled",
    "hunyuanvideo-1.5-i2v-480p",
]
WAN = "wan2.1-i2v-14b-480p"
WAN22 = "wan2.2-i2v-a14b-480p"
MiB = 1024 * 1024

#: What the engine resolves on a GPU by default (``EngineOptions.from_settings``).
GPU_DEFAULTS: dict[str, object] = {
    "device": "cuda",
    "dtype": torch.bfloat16,
    "attention": "auto",
    "fuse_projections": True,
    "compile": True,
}


def request(model: str) -> RenderRequest:
    return RenderRequest(
        model_id=model,
        prompt="a dog runs on the beach",
        width=64,
        height=64,
        num_frames=25 if model.startswith("ltx") else 17,
        fps=16,
        seed=9,
        first_image=Image.new("RGB", (64, 64), (200, 120, 40)),
    )


def render(options: EngineOptions, model: str, path: Path, pipe: object = None) -> np.ndarray:
    runtime = DiffusionRuntime(options)
    pipe = pipe or build_pipeline(model, seed=4, dtype=options.dtype, device="cuda")
    runtime.adopt(model, pipe)
    chunks: list[np.ndarray] = []
    runtime.render(request(model), path, frame_sink=chunks.append)
    return np.concatenate(chunks).astype(np.float64) / 255


def backends(pipe: object) -> set[str]:
    """The attention backends the transformers' attention modules are set to."""
    found = set()
    for name in ("transformer", "transformer_2"):
        model = getattr(pipe, name, None)
        for module in model.modules() if model is not None else ():
            backend = getattr(getattr(module, "processor", None), "_attention_backend", None)
            if backend is not None:
                found.add(getattr(backend, "value", str(backend)))
    return found


def test_a_cancelled_job_gives_its_gpu_memory_back(tmp_path: Path) -> None:
    """Measured after a first, finished job: what a render keeps for the renders after it
    (cuBLAS's workspace, cuDNN's plans, rope tables: 35 MB for this tiny model on the H200)
    is then in the baseline, and all that the cancelled job took must be given back."""
    runtime = DiffusionRuntime(
        EngineOptions(device="cuda", dtype=torch.bfloat16, attention="auto", steps=20)
    )
    runtime.adopt(WAN, build_pipeline(WAN, dtype=torch.bfloat16, device="cuda"))
    runtime.render(request(WAN), tmp_path / "first.mp4")
    torch.cuda.synchronize()
    after_a_job = torch.cuda.memory_allocated()
    calls = []

    def stop_after_three() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(JobCancelled) as cancelled:
        runtime.render(request(WAN), tmp_path / "x.mp4", should_stop=stop_after_three)
    torch.cuda.synchronize()
    # Checked while the exception is still held, as the worker holds it to record the cancel.
    assert cancelled.value.__traceback__ is not None
    assert torch.cuda.memory_allocated() <= after_a_job + MiB
    assert torch.cuda.memory_reserved() - torch.cuda.memory_allocated() < 64 * MiB
    # The model is still warm and the next job renders.
    runtime.render(request(WAN), tmp_path / "y.mp4")
    assert probe_video(tmp_path / "y.mp4").frame_count == 17


@pytest.mark.parametrize("built_on", ["cuda", "cpu"])
@pytest.mark.parametrize("offload", ["model", "group"])
def test_offloaded_experts_come_to_the_gpu_once_per_job_not_once_per_step(
    offload: str, built_on: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wan2.2's two experts under each offload mode, from a pipeline built on the GPU or on the
    CPU (where ``from_pretrained`` loads it), counted where the weights really move:
    ``Module.to`` calls that bring an expert onto the GPU from elsewhere (accelerate's hook
    calls ``to`` at every forward; on an expert already there it moves nothing). Once each per
    job, for 4 steps as for 8; then the VAE decodes on the GPU."""
    pipe = build_pipeline(WAN22, seed=4, dtype=torch.bfloat16, device=built_on)
    experts = {"transformer": pipe.transformer, "transformer_2": pipe.transformer_2}
    onloads: dict[str, int] = {}
    module_to = torch.nn.Module.to

    def to(module: torch.nn.Module, *args: object, **kwargs: object) -> object:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        for name, expert in experts.items():
            to_gpu = device is not None and torch.device(device).type == "cuda"
            if module is expert and to_gpu and next(expert.parameters()).device.type != "cuda":
                onloads[name] = onloads.get(name, 0) + 1
        return module_to(module, *args, **kwargs)

    runtime = DiffusionRuntime(EngineOptions(device="cuda", dtype=torch.bfloat16, offload=offload))
    runtime.adopt(WAN22, pipe)
    monkeypatch.setattr(torch.nn.Module, "to", to)
    per_job = []
    for steps in (4, 8):
        onloads.clear()
        runtime.options = EngineOptions(
            device="cuda", dtype=torch.bfloat16, offload=offload, steps=steps
        )
        runtime.render(request(WAN22), tmp_path / f"{steps}.mp4")
        assert probe_video(tmp_path / f"{steps}.mp4").frame_count == 17
        per_job.append(dict(onloads))
    assert per_job == [{"transformer": 1, "transformer_2": 1}] * 2


@pytest.mark.parametrize("offload", ["model", "group"])
@pytest.mark.parametrize(
    "model", [WAN, "ltx-video-0.9.7-distilled", "ltx-2.3-distilled", "hunyuanvideo-1.5-i2v-480p"]
)
def test_every_model_renders_under_each_offload_mode_from_a_pipeline_loaded_on_the_cpu(
    model: str, offload: str, tmp_path: Path
) -> None:
    """As the engine loads weights (``from_pretrained`` puts them on the CPU), then offloads
    to the GPU: the VAE (and LTX-2's audio VAE and vocoder) decode with their inputs on the
    device their hooks bring the weights to."""
    options = EngineOptions(device="cuda", dtype=torch.bfloat16, offload=offload, steps=2)
    pipe = build_pipeline(model, seed=4, dtype=torch.bfloat16, device="cpu")
    frames = render(options, model, tmp_path / "x.mp4", pipe)
    assert frames.shape[0] == request(model).num_frames


def test_a_model_whose_heads_cudnn_cannot_run_renders_with_the_gpu_defaults(
    tmp_path: Path,
) -> None:
    """Heads 12 wide (what the tiny models had when cuDNN failed them on the H200): the engine
    picks PyTorch's native attention for them instead of a backend without a kernel."""
    pipe = build_pipeline(WAN, seed=4, dtype=torch.bfloat16, device="cuda")
    with torch.device("cuda"):
        pipe.register_modules(
            transformer=WanTransformer3DModel(
                patch_size=(1, 2, 2),
                num_attention_heads=2,
                attention_head_dim=12,
                in_channels=36,
                out_channels=16,
                text_dim=32,
                ffn_dim=32,
                num_layers=2,
                image_dim=4,
            ).to(torch.bfloat16)
        )
    frames = render(EngineOptions(**GPU_DEFAULTS, steps=2), WAN, tmp_path / "x.mp4", pipe)
    assert frames.shape[0] == 17
    assert backends(pipe) == {NATIVE}


@pytest.mark.parametrize(
    ("fp8", "cache"), [(True, "none"), (False, "first-block"), (False, "taylorseer")]
)
def test_each_lossy_option_renders_with_the_gpu_defaults(
    fp8: bool, cache: str, tmp_path: Path
) -> None:
    """The H200 session's two failures (FP8 and the first-block cache under regional compile)
    and TaylorSeer, each with the engine's GPU defaults on: they render, uncompiled."""
    options = EngineOptions(**GPU_DEFAULTS, steps=6, fp8=fp8, lossy_cache=cache)
    frames = render(options, WAN, tmp_path / "x.mp4")
    assert frames.shape[0] == 17


# Last: each model's first regional compile takes seconds, and a session cut short by its time
# limit should still have run the checks above.
@pytest.mark.parametrize("model", MODELS)
def test_the_optimized_engine_matches_eager_within_bf16_noise(model: str, tmp_path: Path) -> None:
    """The engine's GPU defaults (cuDNN attention, which ``auto`` picks for these heads, fused
    projections, regional compile) against PyTorch's native attention, uncompiled: named, as
    diffusers makes the last backend set the process-wide default."""
    eager = EngineOptions(device="cuda", dtype=torch.bfloat16, steps=4, attention=NATIVE)
    fast = EngineOptions(**GPU_DEFAULTS, steps=4)
    reference = render(eager, model, tmp_path / "eager.mp4")
    pipe = build_pipeline(model, seed=4, dtype=torch.bfloat16, device="cuda")
    optimized = render(fast, model, tmp_path / "fast.mp4", pipe)
    assert backends(pipe) == {CUDNN}
    assert probe_video(tmp_path / "fast.mp4").frame_count == reference.shape[0]
    assert np.abs(optimized - reference).mean() < 0.02
