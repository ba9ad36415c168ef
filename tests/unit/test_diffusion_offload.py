"""Wan2.2-I2V-A14B's two experts under the engine's memory options, counted with hooks on a
tiny pipeline (random weights, CPU): with offloading, each expert crosses to the device once per
job, at the expert switch, however many steps run; without it, nothing moves. Skipped, with the
reason, where the gpu extra is not installed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the gpu extra (torch, diffusers) is not installed")
pytest.importorskip("diffusers", reason="the gpu extra (torch, diffusers) is not installed")

from diffusers.hooks import group_offloading  # noqa: E402
from PIL import Image  # noqa: E402

from vidgen.engines.diffusion import families  # noqa: E402
from vidgen.engines.diffusion.architectures import build_pipeline  # noqa: E402
from vidgen.engines.diffusion.models import recipe_for  # noqa: E402
from vidgen.engines.diffusion.offload import apply_offload, whole_on_device  # noqa: E402
from vidgen.engines.diffusion.render import (  # noqa: E402
    DiffusionRuntime,
    EngineOptions,
    RenderRequest,
)
from vidgen.media.video import probe_video, read_frame  # noqa: E402

WAN22 = "wan2.2-i2v-a14b-480p"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Traffic:
    """What crosses to and from the device: whole-module ``.to`` calls on an expert, and
    diffusers' group-offload onloads of any group inside an expert, counted per expert; plus
    each expert's forwards."""

    def __init__(self, pipe: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.experts = {"transformer": pipe.transformer, "transformer_2": pipe.transformer_2}
        self.moves: Counter[str] = Counter()
        self.onloads: Counter[str] = Counter()
        self.forwards: Counter[str] = Counter()
        owner = {id(m): name for name, e in self.experts.items() for m in e.modules()}
        module_to = torch.nn.Module.to
        onload = group_offloading.ModuleGroup.onload_

        def to(module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
            for name, expert in self.experts.items():
                if module is expert:
                    self.moves[name] += 1
            return module_to(module, *args, **kwargs)

        def onload_(group: Any) -> Any:
            names = {owner[id(m)] for m in group.modules if id(m) in owner}
            for name in names:
                self.onloads[name] += 1
            return onload(group)

        monkeypatch.setattr(torch.nn.Module, "to", to)
        monkeypatch.setattr(group_offloading.ModuleGroup, "onload_", onload_)
        for name, expert in self.experts.items():
            expert.register_forward_pre_hook(lambda *_, n=name: self.forwards.update([n]))

    def reset(self) -> None:
        self.moves.clear()
        self.onloads.clear()
        self.forwards.clear()


def request(seed: int = 3) -> RenderRequest:
    return RenderRequest(
        model_id=WAN22,
        prompt="a boat crosses the bay at dawn",
        width=64,
        height=48,
        num_frames=17,
        fps=16,
        seed=seed,
        first_image=Image.new("RGB", (64, 48), (30, 120, 200)),
    )


def render(runtime: DiffusionRuntime, path: Path) -> np.ndarray:
    runtime.render(request(), path)
    count = probe_video(path).frame_count
    return np.stack([np.asarray(read_frame(path, i)) for i in (0, count - 1)])


@pytest.mark.parametrize("offload", ["group"])
def test_with_offloading_each_expert_moves_once_per_job_not_once_per_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offload: str
) -> None:
    pipe = build_pipeline(WAN22, seed=5)
    traffic = Traffic(pipe, monkeypatch)
    runtime = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32, offload=offload))
    runtime.adopt(WAN22, pipe)
    per_job = []
    for steps in (4, 8, 8):
        traffic.reset()
        runtime.options = EngineOptions(
            device="cpu", dtype=torch.float32, offload=offload, steps=steps
        )
        render(runtime, tmp_path / f"{steps}.mp4")
        # Both experts ran (two CFG passes per step), the high-noise one first.
        assert traffic.forwards["transformer"] > 0 and traffic.forwards["transformer_2"] > 0
        assert sum(traffic.forwards.values()) == 2 * steps
        # Nothing streamed leaf by leaf inside an expert...
        assert traffic.onloads == Counter()
        per_job.append(dict(traffic.moves))
    # ...and the whole-expert moves do not grow with the steps: on at its turn, off after.
    assert per_job[0] == per_job[1] == per_job[2] == {"transformer": 2, "transformer_2": 2}


def test_offloaded_experts_render_what_resident_experts_render(tmp_path: Path) -> None:
    resident = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32, steps=4))
    resident.adopt(WAN22, build_pipeline(WAN22, seed=5))
    offloaded = DiffusionRuntime(
        EngineOptions(device="cpu", dtype=torch.float32, steps=4, offload="group")
    )
    offloaded.adopt(WAN22, build_pipeline(WAN22, seed=5))
    assert np.array_equal(
        render(resident, tmp_path / "a.mp4"), render(offloaded, tmp_path / "b.mp4")
    )


def test_without_offloading_both_experts_stay_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = build_pipeline(WAN22, seed=5)
    runtime = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32, steps=4))
    runtime.adopt(WAN22, pipe)
    traffic = Traffic(pipe, monkeypatch)
    render(runtime, tmp_path / "x.mp4")
    assert traffic.forwards["transformer"] > 0 and traffic.forwards["transformer_2"] > 0
    assert traffic.moves == Counter() and traffic.onloads == Counter()


@pytest.mark.parametrize("model", [WAN22, "wan2.2-ti2v-5b"])
def test_the_decode_input_stays_where_the_pipeline_denoised_wherever_the_vae_waits(
    model: str,
) -> None:
    """Under model offload the VAE's weights wait on the CPU while the pipeline's latents are on
    the GPU, and the VAE's hook moves its weights to the GPU inside ``vae.decode``, not its
    input: the latents must stay on the pipeline's device. (Here the VAE waits on the ``meta``
    device, which a CPU has besides its own; on the H200, decoding the latents moved to where
    the VAE waited failed in its first convolution.)"""
    pipe = build_pipeline(model, seed=5)
    request_ = request()
    recipe = recipe_for(model)
    assert recipe is not None
    kwargs = families.call_arguments(recipe, request_, 2)
    latents = torch.randn(1, pipe.vae.config.z_dim, 5, 6, 8)
    pipe.vae.to("meta")
    prepared = families.prepare_decode(pipe, recipe, (latents,), kwargs, seconds=1.0)
    assert prepared.latents.device == latents.device
    assert prepared.latents.dtype == pipe.vae.dtype


@pytest.mark.usefixtures("one_thread")
def test_group_offloading_keeps_an_encoder_it_cannot_stream_whole_on_the_device() -> None:
    """HunyuanVideo-1.5's image encoder reads its attention's output weights directly, past the
    leaf hooks that would bring them to the GPU: it is kept whole on the device, and the rest
    is group-offloaded as before."""
    pipe = build_pipeline("hunyuanvideo-1.5-i2v-480p", seed=0)
    assert whole_on_device(pipe) == ["image_encoder"]
    apply_offload(pipe, "group", torch.device("cpu"))

    def hooked(module: torch.nn.Module) -> bool:
        return any(hasattr(m, "_diffusers_hook") for m in module.modules())

    assert not hooked(pipe.image_encoder)
    assert hooked(pipe.transformer) and hooked(pipe.vae)
