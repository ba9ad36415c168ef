"""Which of the engine's speed options a model can take: the attention backend, whether regional
``torch.compile`` composes with the lossy options, and the step caches' layout.

Each rule here comes from a failure measured on an H200 (``bench/RESULTS.md``, 2026-12-04)
or, for TaylorSeer, reproduced on the CPU:

- cuDNN attention has kernels only for head widths that are multiples of 8 (and, outside Hopper
  with cuDNN 9.10+, at most 128: torch's ``check_cudnn_tensor_shapes``); forced for another
  width, SDPA aborts with "No available kernel". ``auto`` therefore reads every attention's head
  width and picks cuDNN only where all of them fit.
- diffusers' FP8 layerwise casting, first-block cache and TaylorSeer cache work through hooks
  that Dynamo cannot trace inside a ``fullgraph`` compiled block (an ``nn.Parameter`` made in
  the forward; objects it cannot wrap; ``torch.compiler.disable``d calls), so with any of them
  the engine does not compile.

Imports torch; the engine imports it on first use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "CUDNN",
    "NATIVE",
    "AttentionChoice",
    "attention_head_dims",
    "cache_config",
    "choose_attention",
    "compile_blocker",
]

log = logging.getLogger(__name__)

CUDNN, NATIVE = "_native_cudnn", "native"

#: torch's limits for cuDNN attention on every GPU it supports (256 is allowed only on SM 9.0
#: with cuDNN 9.10+); every model the engine serves has heads of 128 (LTX-2's audio: 64).
_CUDNN_HEAD_MULTIPLE, _CUDNN_HEAD_MAX = 8, 128

#: What each option's hooks do that Dynamo cannot trace in a ``fullgraph`` block; measured on the
#: H200 (FP8, first-block) and reproduced on the CPU (all three) with Dynamo's eager backend.
_COMPILE_BLOCKERS = {
    "fp8": "FP8 layerwise casting builds nn.Parameters inside the forward, which Dynamo refuses",
    "first-block": "the first-block cache's hooks hold objects Dynamo cannot trace",
    "taylorseer": "the TaylorSeer cache's hooks call functions excluded from compilation",
}

#: TaylorSeer's layout in the engine: on a predicted step every transformer block is skipped
#: (it returns zeros) and the output projections (LTX-2 has one for sound too) are extrapolated
#: from their last computed values. diffusers' default identifiers match attention modules
#: named ``attn`` exactly, which Wan and LTX-Video (``attn1``, ``attn2``) do not have: there the
#: default cache hooked nothing and saved nothing. Hooking every attention instead would keep
#: two Taylor factors per attention, CFG pass and token (over 100 GB for Wan 14B at 480p).
_TAYLORSEER_SKIPPED = [r"(blocks|transformer_blocks)\.\d+"]
_TAYLORSEER_PREDICTED = [r"proj_out", r"audio_proj_out"]


@dataclass(frozen=True)
class AttentionChoice:
    """The backend for a model's attention (None: diffusers' default) and why."""

    backend: str | None
    reason: str


def attention_head_dims(pipe: Any) -> set[int]:
    """The head widths of every attention in ``pipe`` that goes through diffusers' attention
    dispatcher: the transformers' (video and audio, self and cross) and any other component's,
    such as LTX-2's text connectors, which follow the backend a transformer sets (diffusers
    makes it the process-wide default). Encoders from ``transformers`` pick their own kernels."""
    widths: set[int] = set()
    for component in pipe.components.values():
        if not isinstance(component, torch.nn.Module):
            continue
        for module in component.modules():
            if not hasattr(getattr(module, "processor", None), "_attention_backend"):
                continue
            attributes: dict[str, Any] = vars(module)
            width = attributes.get("head_dim")
            heads = attributes.get("heads")
            if width is None and heads:
                width = attributes.get("inner_dim", 0) // heads
            widths.add(int(width or 0))  # 0: a width it cannot tell, which no kernel is sure of
    return widths


def choose_attention(
    pipe: Any, requested: str | None, device: torch.device, dtype: torch.dtype
) -> AttentionChoice:
    """``requested`` as configured (None: diffusers' default, kept), or for ``auto`` cuDNN
    attention where it can run every attention of ``pipe``, else PyTorch's native SDPA, which
    picks a kernel per call. Never a backend that cannot run the model, unless asked for."""
    if requested != "auto":
        reason = "as configured" if requested else "diffusers' default"
        if requested == CUDNN:
            misfit = _cudnn_misfit(pipe, device, dtype)
            if misfit:
                log.warning(
                    "cuDNN attention was configured but cannot run this model",
                    extra={"reason": misfit},
                )
        return AttentionChoice(requested, reason)
    misfit = _cudnn_misfit(pipe, device, dtype)
    if misfit:
        return AttentionChoice(NATIVE, misfit)
    widths = sorted(attention_head_dims(pipe))
    return AttentionChoice(CUDNN, f"every attention head ({widths}) fits cuDNN's kernels")


def _cudnn_misfit(pipe: Any, device: torch.device, dtype: torch.dtype) -> str | None:
    if device.type != "cuda":
        return f"cuDNN attention runs on CUDA only, not {device.type}"
    if dtype not in (torch.bfloat16, torch.float16):
        return f"cuDNN attention computes in bf16 or fp16, not {dtype}"
    widths = attention_head_dims(pipe)
    unfit = sorted(w for w in widths if w <= 0 or w % _CUDNN_HEAD_MULTIPLE or w > _CUDNN_HEAD_MAX)
    if unfit:
        return (
            f"attention heads {unfit} wide: cuDNN's kernels need multiples of "
            f"{_CUDNN_HEAD_MULTIPLE} up to {_CUDNN_HEAD_MAX}"
        )
    return None


def compile_blocker(*, fp8: bool, lossy_cache: str) -> str | None:
    """Why regional compile must stay off with these lossy options, or None if it composes."""
    reasons = [_COMPILE_BLOCKERS["fp8"]] if fp8 else []
    if lossy_cache in _COMPILE_BLOCKERS:
        reasons.append(_COMPILE_BLOCKERS[lossy_cache])
    return "; ".join(reasons) or None


def cache_config(name: str) -> Any:
    """diffusers' config for the step cache ``name`` (``VIDGEN_GPU_LOSSY_CACHE``)."""
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if name == "first-block":
        return FirstBlockCacheConfig(threshold=0.05)
    if name == "taylorseer":
        # Its schedule stays diffusers' default: full steps 0-2, then one in five (4, 9, 14…),
        # so 29 of a 40-step schedule are predicted.
        return TaylorSeerCacheConfig(
            skip_predict_identifiers=_TAYLORSEER_SKIPPED,
            cache_identifiers=_TAYLORSEER_PREDICTED,
        )
    raise ValueError(f"unknown cache {name!r}")
