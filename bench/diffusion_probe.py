"""Where a render's time goes, measured without making the GPU wait: ``bench/diffusion.py``'s
instruments.

A ``Probe`` records timestamps on the GPU's stream (CUDA events; wall clock on the CPU) at the
start of a render, around every text-encoder forward (the LTX-2 connectors count as text
encoding), at the first transformer forward (the start of the denoising loop) and at the end of
each step. Recording an event queues a timestamp; nothing waits for the GPU until the render is
over, so the loop runs as it would unobserved. After the loop, host clocks take over: the time
until the last decoded frames reach the host is the VAE decode, the rest is the MP4 encode.

Also here: the matmul FLOPs of one denoising step, for MFU.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Phases", "Probe", "matmul_peak", "transformer_flops"]


class _Mark:
    """A point in time: a CUDA event on the current stream, or the wall clock."""

    def __init__(self, cuda: bool) -> None:
        self.wall = time.perf_counter()
        self.event: Any = None
        if cuda:
            self.event = torch.cuda.Event(enable_timing=True)
            self.event.record()

    def until(self, later: _Mark) -> float:
        if self.event is not None and later.event is not None:
            return float(self.event.elapsed_time(later.event)) / 1000
        return later.wall - self.wall


@dataclass
class Phases:
    """Seconds per phase of one render. ``before_loop`` includes ``text_encode`` (and the image
    and VAE encodes of the conditioning)."""

    text_encode: float = 0.0
    before_loop: float = 0.0
    denoise: float = 0.0
    vae_decode: float = 0.0
    mp4_encode: float = 0.0
    total: float = 0.0
    step_times: list[float] = field(default_factory=list)

    @property
    def step(self) -> float:
        """The typical step: the median, leaving out the first (it can include a lazy
        allocation or a kernel choice) when there are more than two."""
        times = self.step_times[1:] if len(self.step_times) > 2 else self.step_times
        return statistics.median(times) if times else float("nan")


class Probe:
    """Hooks on one pipeline's encoders and denoisers; ``start``, ``step`` (from the step
    callback), ``frames_on_host`` and ``finish`` bracket one render."""

    def __init__(self, pipe: Any, cuda: bool) -> None:
        self.cuda = cuda
        self._handles: list[Any] = []
        self._reset()
        for name in ("text_encoder", "text_encoder_2", "connectors"):
            module = getattr(pipe, name, None)
            if isinstance(module, torch.nn.Module):
                self._handles.append(module.register_forward_pre_hook(self._text_in))
                self._handles.append(module.register_forward_hook(self._text_out))
        for name in ("transformer", "transformer_2"):
            module = getattr(pipe, name, None)
            if isinstance(module, torch.nn.Module):
                self._handles.append(module.register_forward_pre_hook(self._denoiser_in))

    def _reset(self) -> None:
        self._start: _Mark | None = None
        self._text: list[tuple[_Mark, _Mark | None]] = []
        self._loop: _Mark | None = None
        self._steps: list[_Mark] = []
        self._host_frames: float | None = None

    def _text_in(self, *_: Any) -> None:
        if self._start is not None:
            self._text.append((_Mark(self.cuda), None))

    def _text_out(self, *_: Any) -> None:
        if self._text and self._text[-1][1] is None:
            self._text[-1] = (self._text[-1][0], _Mark(self.cuda))

    def _denoiser_in(self, *_: Any) -> None:
        if self._start is not None and self._loop is None:
            self._loop = _Mark(self.cuda)

    def start(self) -> None:
        self._reset()
        self._start = _Mark(self.cuda)

    def step(self, _index: int = 0) -> None:
        self._steps.append(_Mark(self.cuda))

    def frames_on_host(self) -> None:
        """Called each time decoded frames reach the host; the last call ends the decode."""
        self._host_frames = time.perf_counter()

    def finish(self) -> Phases:
        """After the render has returned (the file is closed): the phases."""
        if self.cuda:
            torch.cuda.synchronize()
        end = time.perf_counter()
        start, loop, steps = self._start, self._loop, self._steps
        assert start is not None and loop is not None and steps, "no denoising step was seen"
        phases = Phases(total=end - start.wall)
        phases.text_encode = sum(a.until(b) for a, b in self._text if b is not None)
        phases.before_loop = start.until(loop)
        phases.denoise = loop.until(steps[-1])
        phases.step_times = [a.until(b) for a, b in zip([loop, *steps], steps, strict=False)]
        after = max(0.0, phases.total - phases.before_loop - phases.denoise)
        host = self._host_frames if self._host_frames is not None else end
        phases.mp4_encode = min(after, max(0.0, end - host))
        phases.vae_decode = after - phases.mp4_encode
        return phases

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def matmul_peak(device: str) -> float:
    """bf16 TFLOP/s of an 8192³ matmul on this GPU, measured now (the MFU denominator)."""
    if not device.startswith("cuda"):
        return float("nan")
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()
    return 2 * 8192**3 * 20 / (time.perf_counter() - start) / 1e12


def _block(tokens: int, context: int, dim: int, ffn: int) -> int:
    """Matmul FLOPs of one DiT block: self-attention (q, k, v, out projections, QKᵀ, AV),
    cross-attention to ``context`` tokens, and a two-matrix feed-forward."""
    return (
        2 * tokens * dim * dim * 4
        + 2 * 2 * tokens * tokens * dim
        + 2 * tokens * dim * dim * 2
        + 2 * context * dim * dim * 2
        + 2 * 2 * tokens * context * dim
        + 2 * tokens * dim * ffn * 2
    )


def transformer_flops(pipe: Any, family: str, num_frames: int, height: int, width: int) -> float:
    """Matmul FLOPs of the transformer for one denoising forward pass, counted from its config
    (norms, RoPE and modulation are left out: they are memory-bound), so MFU is the share of the
    matmul peak that did useful matmuls. Approximate for LTX-2's audio stream and its
    audio↔video cross-attention, and for HunyuanVideo-1.5's joint attention over text and image
    tokens; exact in structure for Wan and LTX-Video."""
    cfg = pipe.transformer.config
    vae_t = getattr(pipe, "vae_scale_factor_temporal", None) or pipe.vae_temporal_compression_ratio
    vae_s = getattr(pipe, "vae_scale_factor_spatial", None) or pipe.vae_spatial_compression_ratio
    frames = (num_frames - 1) // vae_t + 1
    if family == "wan":
        pt, ph, pw = cfg.patch_size
        dim, ffn, context = cfg.num_attention_heads * cfg.attention_head_dim, cfg.ffn_dim, 512
        if cfg.image_dim and getattr(pipe, "image_encoder", None) is not None:
            clip = pipe.image_encoder.config
            context += (clip.image_size // clip.patch_size) ** 2 + 1  # 257 for ViT-H/14
        tokens = (frames // pt) * (height // vae_s // ph) * (width // vae_s // pw)
        return float(_block(tokens, context, dim, ffn) * cfg.num_layers)
    if family == "ltx":
        dim = cfg.num_attention_heads * cfg.attention_head_dim
        tokens = frames * (height // vae_s // cfg.patch_size) * (width // vae_s // cfg.patch_size)
        return float(_block(tokens, 256, dim, 4 * dim) * cfg.num_layers)
    if family == "ltx2":
        dim = cfg.num_attention_heads * cfg.attention_head_dim
        audio_dim = cfg.audio_num_attention_heads * cfg.audio_attention_head_dim
        tokens = frames * (height // vae_s) * (width // vae_s)
        audio = round(num_frames / 24 * 25)  # 25 audio latents a second (16 kHz, hop 160, ÷4)
        per_layer = _block(tokens, 1024, dim, 4 * dim) + _block(
            audio, 1024, audio_dim, 4 * audio_dim
        )
        per_layer += 2 * 2 * (tokens + audio) * audio_dim * (dim + audio_dim)  # a2v and v2a
        return float(per_layer * cfg.num_layers)
    if family == "hunyuan":
        dim = cfg.num_attention_heads * cfg.attention_head_dim
        tokens = frames * (height // vae_s) * (width // vae_s)
        joint = tokens + 1000 + 256 + 729  # prompt, glyph text, SigLIP image tokens
        return float(_block(joint, 0, dim, int(cfg.mlp_ratio * dim)) * cfg.num_layers)
    return float("nan")
