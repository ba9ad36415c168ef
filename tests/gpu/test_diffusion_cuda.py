"""The diffusers engine on a CUDA GPU: what only a GPU can show. Skipped, with the reason,
everywhere else (CI has no GPU); run on a GPU machine with ``pytest tests/gpu``.

Tiny pipelines still: the point is the CUDA paths (bf16, cuDNN attention, fused projections,
regional compile, pinned-memory streaming decode, memory given back after a cancel), not speed,
which ``bench/diffusion.py`` measures on full-size models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the gpu extra (torch, diffusers) is not installed")
pytest.importorskip("diffusers", reason="the gpu extra (torch, diffusers) is not installed")

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)

from PIL import Image  # noqa: E402

from vidgen.engines.diffusion.architectures import build_pipeline  # noqa: E402
from vidgen.engines.diffusion.render import (  # noqa: E402
    DiffusionRuntime,
    EngineOptions,
    RenderRequest,
)
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
WAN22 = "wan2.2-i2v-a14b-480p"


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


def render(options: EngineOptions, model: str, path: Path) -> np.ndarray:
    runtime = DiffusionRuntime(options)
    runtime.adopt(model, build_pipeline(model, seed=4, dtype=options.dtype, device="cuda"))
    chunks: list[np.ndarray] = []
    runtime.render(request(model), path, frame_sink=chunks.append)
    return np.concatenate(chunks).astype(np.float64) / 255


def test_a_cancelled_job_gives_its_gpu_memory_back(tmp_path: Path) -> None:
    model = "wan2.1-i2v-14b-480p"
    runtime = DiffusionRuntime(EngineOptions(device="cuda", dtype=torch.bfloat16, steps=20))
    runtime.adopt(model, build_pipeline(model, dtype=torch.bfloat16, device="cuda"))
    torch.cuda.synchronize()
    warm_model = torch.cuda.memory_allocated()
    calls = []

    def stop_after_three() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(JobCancelled):
        runtime.render(request(model), tmp_path / "x.mp4", should_stop=stop_after_three)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() <= warm_model + 1024 * 1024
    assert torch.cuda.memory_reserved() - torch.cuda.memory_allocated() < 64 * 1024 * 1024
    # The model is still warm and the next job renders.
    runtime.render(request(model), tmp_path / "y.mp4")
    assert probe_video(tmp_path / "y.mp4").frame_count == 17


@pytest.mark.parametrize("offload", ["model", "group"])
def test_offloaded_experts_come_to_the_gpu_once_per_job_not_once_per_step(
    offload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wan2.2's two experts under each offload mode, counted where the weights really move:
    ``Module.to`` calls that bring an expert onto the GPU. Once each per job, for 4 steps as
    for 8."""
    pipe = build_pipeline(WAN22, seed=4, dtype=torch.bfloat16, device="cuda")
    experts = {"transformer": pipe.transformer, "transformer_2": pipe.transformer_2}
    onloads: dict[str, int] = {}
    module_to = torch.nn.Module.to

    def to(module: torch.nn.Module, *args: object, **kwargs: object) -> object:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        for name, expert in experts.items():
            if module is expert and device is not None and torch.device(device).type == "cuda":
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
        per_job.append(dict(onloads))
    assert per_job == [{"transformer": 1, "transformer_2": 1}] * 2


# Last: each model's first regional compile takes seconds, and a session cut short by its time
# limit should still have run the checks above.
@pytest.mark.parametrize("model", MODELS)
def test_the_optimized_engine_matches_eager_within_bf16_noise(model: str, tmp_path: Path) -> None:
    eager = EngineOptions(device="cuda", dtype=torch.bfloat16, steps=4)
    fast = EngineOptions(
        device="cuda",
        dtype=torch.bfloat16,
        steps=4,
        attention="_native_cudnn",
        fuse_projections=True,
        compile=True,
    )
    reference = render(eager, model, tmp_path / "eager.mp4")
    optimized = render(fast, model, tmp_path / "fast.mp4")
    assert probe_video(tmp_path / "fast.mp4").frame_count == reference.shape[0]
    assert np.abs(optimized - reference).mean() < 0.02
