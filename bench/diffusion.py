"""Benchmark: vidgen's diffusers engine against plain diffusers, same weights, same run.

Speed is a property of the architecture, not of the weights, so the models are built from their
full-size configs with random weights (``vidgen/engines/diffusion/architectures.py``), straight
on the GPU, in bf16 (the VAE in float32, as Wan's own code and diffusers' examples run it).
In one process, on the same pipeline object, for the same shapes, seed and steps, it runs:

- ``plain``: the diffusers pipeline with its defaults (``output_type="np"``), then the same
  ``Mp4Writer`` fed the frames afterwards: what calling diffusers from a server looks like;
- ``engine``: ``DiffusionRuntime`` with the engine's default options (cuDNN attention, fused QKV
  projections, regional ``torch.compile``; latents out; Wan's VAE streamed into the encoder);
- lossy variants, only with ``--lossy``, each labelled: ``first-block`` and ``taylorseer`` step
  caches, ``fp8`` weights, ``half-steps``.

For each: seconds per denoising step (median of the timed steps, from CUDA events recorded in
the step callback, so timing adds no host sync), whole-video latency split into before the
loop (text, image and VAE encode), the loop, and after it (VAE decode, MP4 encode), peak GPU
memory, MFU against a bf16 matmul measured in the same run, and the output difference from
``plain`` (max and mean absolute over all frames in [0, 1], PSNR). A warm-up render per variant
(2 steps) absorbs compilation and cuDNN autotuning; its time is printed as ``warm-up``.

GPU (the issue's target: Wan2.1-I2V-14B 480p, 81 frames, 40 steps; 10 timed steps are enough
for the per-step figure, and the whole-video line is projected to the full step count)::

    .venv/bin/python bench/diffusion.py --model wan2.1-i2v-14b-480p --steps 10 --lossy
    .venv/bin/python bench/diffusion.py --model wan2.2-ti2v-5b --steps 10
    .venv/bin/python bench/diffusion.py --model ltx-video-0.9.7-distilled

CPU, tiny configs, to check that the script works (the figures mean nothing)::

    .venv/bin/python bench/diffusion.py --tiny --model wan2.1-i2v-14b-480p --steps 3 --lossy

It is a benchmark, not a test: it asserts nothing, and prints a Markdown table (``--json PATH``
also writes the figures).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from vidgen.core.open_models import OPEN_WEIGHT_MODELS
from vidgen.engines.diffusion.architectures import build_pipeline
from vidgen.engines.diffusion.models import recipe_for
from vidgen.engines.diffusion.render import DiffusionRuntime, EngineOptions, RenderRequest
from vidgen.media.video import Mp4Writer

SPECS = {spec.id: spec for spec in OPEN_WEIGHT_MODELS}
PROMPT = "a red fox trots across a snowy meadow at sunrise, the camera pans slowly to the left"


@dataclass
class Result:
    variant: str
    lossy: bool
    step_seconds: float
    before_loop: float
    loop: float
    after_loop: float
    total: float
    projected_total: float  # the same video at the model's full step count
    peak_gib: float
    tflops: float
    mfu: float
    warmup: float
    max_diff: float = 0.0
    mean_diff: float = 0.0
    psnr: float = math.inf
    notes: list[str] = field(default_factory=list)


class StepClock:
    """Wall clock plus CUDA events, recorded at the start and at every step end. Recording an
    event queues a timestamp on the stream; nothing waits for the GPU until ``finish``."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.events: list[Any] = []
        self.wall: list[float] = []

    def mark(self) -> None:
        self.wall.append(time.perf_counter())
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.events.append(event)

    def intervals(self) -> list[float]:
        """Seconds between consecutive marks (GPU time on CUDA)."""
        if self.cuda:
            torch.cuda.synchronize()
            return [
                a.elapsed_time(b) / 1000 for a, b in zip(self.events, self.events[1:], strict=False)
            ]
        return [b - a for a, b in zip(self.wall, self.wall[1:], strict=False)]


def test_image(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = (i * 97) % width, (i * 53) % height
        draw.ellipse([x, y, x + width // 6, y + height // 6], fill=(30 * i % 256, 200, 90))
    return image


def transformer_flops(pipe: Any, request: RenderRequest, guidance: bool) -> float:
    """Matmul FLOPs of the transformer for one denoising step (both CFG passes), counted from
    the config: projections, attention (QKᵀ and AV), feed-forward. Norms and RoPE are left out
    (they are memory-bound), so MFU is the share of the matmul peak that did useful matmuls."""
    cfg = pipe.transformer.config
    vae_t = getattr(pipe, "vae_scale_factor_temporal", None) or pipe.vae_temporal_compression_ratio
    vae_s = getattr(pipe, "vae_scale_factor_spatial", None) or pipe.vae_spatial_compression_ratio
    frames = (request.num_frames - 1) // vae_t + 1
    if hasattr(cfg, "ffn_dim"):  # Wan
        pt, ph, pw = cfg.patch_size
        heads, head_dim, ffn = cfg.num_attention_heads, cfg.attention_head_dim, cfg.ffn_dim
        text, image = 512, 0
        if cfg.image_dim and getattr(pipe, "image_encoder", None) is not None:
            clip = pipe.image_encoder.config
            image = (clip.image_size // clip.patch_size) ** 2 + 1  # 257 for ViT-H/14 at 224
            if request.last_image is not None:
                image *= 2  # FLF2V: the first and the last frame's tokens
    else:  # LTX
        pt, ph, pw = cfg.patch_size_t, cfg.patch_size, cfg.patch_size
        heads, head_dim = cfg.num_attention_heads, cfg.attention_head_dim
        ffn, text, image = 4 * heads * head_dim, 256, 0
    dim = heads * head_dim
    tokens = (frames // pt) * (request.height // vae_s // ph) * (request.width // vae_s // pw)
    per_block = (
        2 * tokens * dim * dim * 4  # self-attention q, k, v, out
        + 2 * 2 * tokens * tokens * dim  # QKᵀ and AV
        + 2 * tokens * dim * dim * 2  # cross-attention q, out
        + 2 * (text + image) * dim * dim * 2  # cross-attention k, v (text, image tokens)
        + 2 * 2 * tokens * (text + image) * dim  # cross-attention QKᵀ and AV
        + 2 * tokens * dim * ffn * 2  # feed-forward up and down
    )
    return float(per_block * cfg.num_layers * (2 if guidance else 1))


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


def run_plain(
    runtime: DiffusionRuntime, request: RenderRequest, path: Path
) -> tuple[np.ndarray, StepClock, float, float]:
    """diffusers' defaults end to end (``runtime`` only lends its argument mapping and step
    count; it applied no options), then the frames encoded afterwards."""
    pipe, recipe = runtime.pipe, recipe_for(request.model_id)
    assert recipe is not None
    kwargs = runtime.call_arguments(recipe, request)
    kwargs.update({k: v for k, v in recipe.call_options.items() if k.startswith("decode_")})
    clock = StepClock(request_is_cuda(pipe))

    def on_step(_pipe: Any, _i: int, _t: Any, _k: dict[str, Any]) -> dict[str, Any]:
        clock.mark()
        return {}

    start = time.perf_counter()
    clock.mark()
    video = pipe(**kwargs, output_type="np", callback_on_step_end=on_step).frames[0]
    decoded = time.perf_counter()
    frames = (np.clip(video, 0, 1) * 255).round().astype(np.uint8)
    with Mp4Writer(path, width=request.width, height=request.height, fps=request.fps) as writer:
        for frame in frames:
            writer.write_rgb(frame)
    end = time.perf_counter()
    return video.astype(np.float32), clock, end - start, end - decoded


def request_is_cuda(pipe: Any) -> bool:
    return bool(next(pipe.transformer.parameters()).is_cuda)


def run_engine(
    runtime: DiffusionRuntime, request: RenderRequest, path: Path
) -> tuple[np.ndarray, StepClock, float, float]:
    clock = StepClock(request_is_cuda(runtime.pipe))
    chunks: list[np.ndarray] = []

    def on_progress(fraction: float) -> None:
        if fraction <= 0.9 + 1e-9:  # a step's end; decoding reports above 0.9
            clock.mark()

    start = time.perf_counter()
    clock.mark()
    stats = runtime.render(request, path, progress=on_progress, frame_sink=chunks.append)
    end = time.perf_counter()
    frames = np.concatenate(chunks).astype(np.float32) / 255
    return frames, clock, end - start, stats.decode_encode


def sharing(runtime: DiffusionRuntime, steps: int) -> DiffusionRuntime:
    """A runtime on the same warm pipeline with another step count (no options re-applied)."""
    view = DiffusionRuntime(replace(runtime.options, steps=steps))
    view.model_id, view.pipe = runtime.model_id, runtime.pipe
    return view


def summarize(
    name: str,
    lossy: bool,
    clock: StepClock,
    total: float,
    after: float,
    full_steps: int,
    flops: float,
    peak_tflops: float,
    warmup: float,
) -> Result:
    gaps = clock.intervals()
    before, loop_steps = gaps[0], gaps[1:]
    # The first interval runs to the end of step 1: take one typical step out of it.
    step = statistics.median(loop_steps[1:] or loop_steps or [gaps[0]])
    before = max(0.0, before - step)
    loop = step * len(gaps)
    tflops = flops / step / 1e12 if step else float("nan")
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
    return Result(
        variant=name,
        lossy=lossy,
        step_seconds=step,
        before_loop=before,
        loop=loop,
        after_loop=after,
        total=total,
        projected_total=total - loop + step * full_steps,
        peak_gib=peak,
        tflops=tflops,
        mfu=tflops / peak_tflops if peak_tflops == peak_tflops else float("nan"),
        warmup=warmup,
    )


def compare(result: Result, frames: np.ndarray, reference: np.ndarray) -> None:
    diff = np.abs(frames.astype(np.float64) - reference.astype(np.float64))
    result.max_diff, result.mean_diff = float(diff.max()), float(diff.mean())
    mse = float((diff**2).mean())
    result.psnr = 10 * math.log10(1 / mse) if mse > 0 else math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="wan2.1-i2v-14b-480p", choices=sorted(SPECS))
    parser.add_argument(
        "--ratio", default=None, help="an aspect ratio of the model (default: its own)"
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds (frame count follows)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: model's)")
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU: a smoke run")
    parser.add_argument("--lossy", action="store_true", help="also time the lossy variants")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    spec, recipe = SPECS[args.model], recipe_for(args.model)
    assert recipe is not None
    if not args.tiny and not torch.cuda.is_available():
        # Full-size models on a CPU would need 60+ GB of memory and hours per step.
        print("skipped: full-size models need a CUDA GPU (use --tiny for a CPU smoke run)")
        return
    cuda = not args.tiny
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    if args.tiny:
        torch.set_num_threads(1)
        width, height, num_frames = 64, 64, 17 if spec.frame_step == 4 else 25
    else:
        width, height = spec.frame_size(args.ratio or spec.default_ratio)
        num_frames = spec.frame_count(args.duration)
    steps = args.steps or recipe.steps
    request = RenderRequest(
        model_id=args.model,
        prompt=PROMPT,
        width=width,
        height=height,
        num_frames=num_frames,
        fps=spec.fps,
        seed=1234,
        first_image=test_image(width, height),
        last_image=test_image(width, height).rotate(180) if recipe.needs_last_image else None,
    )
    print(
        f"# {args.model}: {width}×{height}, {num_frames} frames, {steps} timed steps "
        f"(full: {recipe.steps}), {'tiny configs, CPU' if args.tiny else device}, {dtype}"
    )
    peak_tflops = matmul_peak(device)
    if cuda:
        print(f"bf16 matmul 8192³: {peak_tflops:.0f} TFLOP/s; {torch.cuda.get_device_name()}")

    started = time.perf_counter()
    pipe = build_pipeline(
        args.model, size="tiny" if args.tiny else "full", dtype=dtype, device=device
    )
    if recipe.vae_float32:
        pipe.vae.to(torch.float32)
    print(f"built with random weights in {time.perf_counter() - started:.1f} s")
    flops = transformer_flops(pipe, request, recipe.uses_guidance)
    results: list[Result] = []
    scratch = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    full_steps = recipe.steps

    def measure(
        name: str,
        lossy: bool,
        runtime: DiffusionRuntime,
        run: Callable[
            [DiffusionRuntime, RenderRequest, Path], tuple[np.ndarray, StepClock, float, float]
        ],
        steps_at_full: int = full_steps,
    ) -> np.ndarray | None:
        """Warm up (2 steps, same shapes), then the timed run; a failure is reported, not fatal:
        one broken variant must not cost the rest of a GPU session."""
        try:
            warm = time.perf_counter()
            run(sharing(runtime, 2), request, scratch / "warm.mp4")
            warmup = time.perf_counter() - warm
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            frames, clock, total, after = run(runtime, request, scratch / "timed.mp4")
        except Exception as exc:
            print(f"{name}: failed: {type(exc).__name__}: {exc}")
            return None
        result = summarize(
            name, lossy, clock, total, after, steps_at_full, flops, peak_tflops, warmup
        )
        if results:
            compare(result, frames, reference)
        results.append(result)
        return frames

    # -- plain diffusers (first: the engine's options change the pipeline in place) ---------
    pipe.set_progress_bar_config(disable=True)
    plain = DiffusionRuntime(EngineOptions(device=device, dtype=dtype, steps=steps))
    plain.model_id, plain.pipe = args.model, pipe  # defaults: no options applied
    reference = measure("plain diffusers", False, plain, run_plain)
    if reference is None:
        return

    # -- vidgen's engine --------------------------------------------------------------------
    options = EngineOptions(
        device=device,
        dtype=dtype,
        attention="_native_cudnn" if cuda else None,
        fuse_projections=True,
        compile=cuda,
        steps=steps,
    )
    engine = DiffusionRuntime(options)
    engine.adopt(args.model, pipe)
    measure("vidgen engine", False, engine, run_engine)

    if args.lossy:
        from vidgen.engines.diffusion.render import _cache_config

        for cache in ("first-block", "taylorseer"):
            try:
                pipe.transformer.enable_cache(_cache_config(cache))
            except Exception as exc:
                print(f"{cache} cache: cannot be enabled: {exc}")
                continue
            measure(f"engine + {cache} cache", True, engine, run_engine)
            pipe.transformer.disable_cache()
        half = max(1, steps // 2)
        measure(
            f"engine, {half} of {steps} steps",
            True,
            sharing(engine, half),
            run_engine,
            steps_at_full=max(1, full_steps // 2),
        )
        if cuda:  # last: the weights stay in FP8 afterwards
            pipe.transformer.enable_layerwise_casting(
                storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype
            )
            measure("engine + fp8 weights", True, engine, run_engine)

    print_table(results, full_steps, steps)
    print(
        f"\nplatform: {platform.platform()}, torch {torch.__version__}, "
        f"diffusers {__import__('diffusers').__version__}"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2, default=str))


def print_table(results: list[Result], full_steps: int, steps: int) -> None:
    plain = results[0]
    print(
        f"\n| variant | s/step | speed-up | before loop | loop ({steps} steps) | after loop "
        f"| total | total at {full_steps} steps | outside loop | peak GiB | TFLOP/s | MFU "
        "| max diff | mean diff | PSNR dB | warm-up s |"
    )
    print("|---|" + "---:|" * 15)
    for r in results:
        outside = (r.projected_total - r.step_seconds * full_steps) / r.projected_total
        label = f"{r.variant} (lossy)" if r.lossy else r.variant
        if r.notes:
            label += f" [{'; '.join(r.notes)}]"
        print(
            f"| {label} | {r.step_seconds:.3f} | {plain.step_seconds / r.step_seconds:.2f}× "
            f"| {r.before_loop:.2f} | {r.loop:.2f} | {r.after_loop:.2f} | {r.total:.2f} "
            f"| {r.projected_total:.1f} | {outside:.1%} | {r.peak_gib:.1f} | {r.tflops:.0f} "
            f"| {r.mfu:.0%} | {r.max_diff:.4f} | {r.mean_diff:.5f} | {r.psnr:.1f} | {r.warmup:.1f} |"
        )


if __name__ == "__main__":
    main()
