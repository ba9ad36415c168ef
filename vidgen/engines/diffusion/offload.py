"""Memory options for GPUs smaller than a model: diffusers' offloading, plus whole-expert swaps
for the models with two denoising experts (Wan2.2-I2V-A14B).

Wan2.2's pipeline runs ``transformer`` (high noise) for the first steps and ``transformer_2`` (low
noise) for the rest, switching once, at ``boundary_ratio``. How each offload mode meets that:

- ``none``: both experts stay on the GPU (57 GB in bf16 for the A14B pair): no moves at all.
- ``model``: diffusers chains the components through accelerate's hooks in
  ``model_cpu_offload_seq`` order (``…->transformer->transformer_2->vae``): the low-noise expert's
  first forward offloads the high-noise one, and later forwards find it already on the GPU. So
  each expert moves once per job, at the switch.
- ``group``: diffusers' group offloading streams every leaf's weights to the GPU before each
  forward and back after it, so both experts would cross the bus at every step (28 GB each way
  per forward for a 14B expert). The experts are left out of it instead, and ``ExpertSwap`` keeps
  the active one on the GPU whole, swapping at the switch; the other components (text and image
  encoders, VAE) are still group-offloaded. An expert alone must then fit the GPU (14B in bf16:
  28 GB; with ``VIDGEN_GPU_FP8`` 14 GB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["ExpertSwap", "apply_offload", "whole_on_device"]


class ExpertSwap:
    """Keeps at most one of ``experts`` on ``onload``; the one about to run is brought in (and
    the other sent to ``offload``) by a forward pre-hook, so a run of steps on the same expert
    moves nothing. ``moves`` records each move as (expert index, device type), for tests."""

    def __init__(
        self,
        experts: Sequence[torch.nn.Module],
        onload: torch.device,
        offload: torch.device = torch.device("cpu"),
    ) -> None:
        self.experts = list(experts)
        self.onload, self.offload = onload, offload
        self.active: torch.nn.Module | None = None
        self.moves: list[tuple[int, str]] = []
        for expert in self.experts:
            expert.to(offload)
            expert.register_forward_pre_hook(self._before_forward)

    def _before_forward(self, module: torch.nn.Module, _args: Any) -> None:
        if module is self.active:
            return
        self.release()
        module.to(self.onload)
        self.moves.append((self.experts.index(module), self.onload.type))
        self.active = module

    def release(self) -> None:
        """Send the active expert off the GPU: after denoising, so the VAE decode has the room.
        The next job starts with the other expert anyway, so this costs no extra move."""
        if self.active is None:
            return
        self.active.to(self.offload)
        self.moves.append((self.experts.index(self.active), self.offload.type))
        self.active = None


def apply_offload(pipe: Any, mode: str, device: torch.device) -> ExpertSwap | None:
    """Place ``pipe`` on ``device`` with offload ``mode`` (none | model | group); returns the
    expert swap where one was installed."""
    experts = [
        module
        for module in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None))
        if module is not None
    ]
    if mode == "model":
        pipe.enable_model_cpu_offload(device=device)
        return None
    if mode != "group":
        pipe.to(device)
        return None
    group_options: dict[str, Any] = {
        "onload_device": device,
        "offload_type": "leaf_level",
        "use_stream": device.type == "cuda",
    }
    whole = whole_on_device(pipe)
    if len(experts) < 2:
        pipe.enable_group_offload(**group_options, exclude_modules=whole or None)
        return None
    from diffusers.hooks import apply_group_offloading

    # diffusers' enable_group_offload, minus the experts (its exclude_modules would put both of
    # them on the GPU at once, which is what offloading is for avoiding).
    for component in pipe.components.values():
        if not isinstance(component, torch.nn.Module) or any(component is e for e in experts):
            continue
        if any(component is getattr(pipe, name, None) for name in whole):
            component.to(device)
            continue
        enable = getattr(component, "enable_group_offload", None)  # diffusers' models have it
        if callable(enable):
            enable(**group_options)
        else:  # transformers' encoders
            apply_group_offloading(module=component, **group_options)
    return ExpertSwap(experts, onload=device)


def whole_on_device(pipe: Any) -> list[str]:
    """The components that group offloading cannot stream, kept whole on the GPU instead: those
    with a ``torch.nn.MultiheadAttention`` (HunyuanVideo-1.5's SigLIP image encoder). Its
    forward reads its ``out_proj`` weights directly (``F.multi_head_attention_forward``), so the
    leaf's own hook never runs and the weights stay on the CPU: seen on an H200, "mat1 is on
    cuda:0, different from other tensors on cpu". Such encoders are small beside the
    transformer."""
    return [
        name
        for name, component in pipe.components.items()
        if isinstance(component, torch.nn.Module)
        and any(isinstance(m, torch.nn.MultiheadAttention) for m in component.modules())
    ]
