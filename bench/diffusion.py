"""Benchmark: vidgen's diffusers engine against plain diffusers, same weights, same run.

Speed is a property of the architecture, not of the weights, so the models are built from their
full-size configs with random weights (``vidgen/engines/diffusion/architectures.py``), straight
on the GPU, in bf16 (the Wan VAE in float32, as Wan's own code and diffusers' examples run it).
In one process, on the same pipeline object, for the same shapes, seed and steps, it runs:

- ``plain``: the diffusers pipeline with its defaults (``output_type="np"``), then the same
  ``Mp4Writer`` fed the frames (and LTX-2's sound) afterwards: calling diffusers from a server;
- ``engine``: ``DiffusionRuntime`` with the engine's default options (cuDNN attention, fused QKV
  projections, regional ``torch.compile``; latents out; Wan's VAE streamed into the encoder);
- lossy variants, only with ``--lossy`` (``--lossy-variants`` picks them), each labelled and each
  on a fresh pipeline with the engine's GPU defaults plus that one option, so the engine's own
  rules apply (no regional compile with FP8 or a step cache): ``first-block`` and ``taylorseer``
  step caches, ``half`` the steps, ``fp8`` weights.

Per variant: seconds per denoising step (median, from CUDA events recorded in the step callback,
so timing adds no host sync), the render split into text encode, before the loop (text, image and
VAE encode of the conditioning), the denoising loop, VAE decode and MP4 encode
(``bench/diffusion_probe.py``), peak GPU memory, MFU against a bf16 matmul measured in the same
run, and the difference of the frames from ``plain`` (max, mean absolute in [0, 1], PSNR).

Budget knobs, for a GPU session of a few minutes: ``--steps`` (timed steps; the per-step figure
is always at the full shape unless ``--frames`` shrinks it, which the output says),
``--warmup-steps`` (a denoise of that many steps at the full shape, plus a short VAE decode,
before each variant: compilation and kernel choice stay out of the figures), and ``--deadline``
(seconds since start after which the remaining variants are skipped and reported as skipped).
The whole-video figure is *projected*: measured time outside the loop + median step × the model's
step count. A step cache makes steps unequal, so for it the figure is the mean step, and the
projection follows the cache's schedule: TaylorSeer's (full steps 0-2, then one in five) is known
in advance, so its full and predicted steps are timed apart and counted at the model's step count;
the first-block cache decides per step, so its mean over the timed steps is used as it is. Time
enough steps for a cache to skip some: TaylorSeer predicts its first at step 3, the first-block
cache can skip from step 1. ``--json PATH`` is rewritten after every variant, so a run cut short
keeps what it measured. ``--save-reference PATH`` keeps the first variant's frames (and its step
time), and ``--reference PATH`` compares a later run's variants with them instead: the lossy
variants of a GPU session are compared with the plain run of an earlier step, same seed, shape
and steps, without running it again.

GPU (``bench/gpu_session.sh`` runs these in priority order within one device call)::

    python bench/diffusion.py --model wan2.1-i2v-14b-480p --steps 3 --json wan14b.json
    python bench/diffusion.py --model ltx-2.3-distilled --json ltx2.json
    python bench/diffusion.py --model wan2.2-i2v-a14b-720p --steps 1 --json wan22.json

CPU, tiny configs, to check that the script works (the figures mean nothing)::

    .venv/bin/python bench/diffusion.py --tiny --model wan2.1-i2v-14b-480p --steps 3 --lossy

It is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/diffusion.py`

from bench.diffusion_probe import Phases, Probe, matmul_peak, transformer_flops
from vidgen.core.catalog import OPEN_WEIGHT_MODELS
from vidgen.engines.diffusion import decode, families
from vidgen.engines.diffusion.architectures import build_pipeline
from vidgen.engines.diffusion.models import Recipe, recipe_for
from vidgen.engines.diffusion.render import (
    DiffusionRuntime,
    EngineOptions,
    RenderRequest,
)
from vidgen.engines.diffusion.tuning import cache_config
from vidgen.media.audio import AudioTrack
from vidgen.media.video import Mp4Writer

SPECS = {spec.id: spec for spec in OPEN_WEIGHT_MODELS}
PROMPT = "a red fox trots across a snowy meadow at sunrise, the camera pans slowly to the left"
Runner = Callable[[DiffusionRuntime, RenderRequest, Path, Probe], tuple[np.ndarray, Phases]]
LOSSY = ("first-block", "taylorseer", "half", "fp8")


@dataclass
class Result:
    variant: str
    lossy: bool
    status: str = "measured"  # or "skipped: …" / "failed: …"
    timed_steps: int = 0
    step_seconds: float = math.nan
    phases: dict[str, float] = field(default_factory=dict)
    projected_total: float = math.nan  # the same video at the model's full step count
    outside_loop_share: float = math.nan  # of the projected total
    peak_gib: float = math.nan
    tflops: float = math.nan
    mfu: float = math.nan
    warmup_seconds: float = math.nan
    max_diff: float = math.nan
    mean_diff: float = math.nan
    psnr: float = math.nan
    note: str = ""  # how a step cache's figures were made


def test_image(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = (i * 97) % width, (i * 53) % height
        draw.ellipse([x, y, x + width // 6, y + height // 6], fill=(30 * i % 256, 200, 90))
    return image


def run_plain(
    runtime: DiffusionRuntime, request: RenderRequest, path: Path, probe: Probe
) -> tuple[np.ndarray, Phases]:
    """diffusers' defaults end to end (``runtime`` only lends its argument mapping and step
    count; it applied no options), then the frames (and sound) encoded afterwards."""
    pipe, recipe = runtime.pipeline_for(_recipe(request), request), _recipe(request)
    kwargs = runtime.call_arguments(recipe, request)
    kwargs.update({k: v for k, v in recipe.call_options.items() if k.startswith("decode_")})
    probe.start()
    output = families.denoise(pipe, kwargs, probe.step, output_type="np")
    video = np.asarray(output[0][0], dtype=np.float32)
    probe.frames_on_host()
    audio = None
    if recipe.audio:
        rate = int(pipe.vocoder.config.output_sampling_rate)
        samples = output[1][0].float().clamp(-1, 1).cpu().numpy()
        keep = round(request.num_frames / request.fps * rate)
        audio = AudioTrack(np.ascontiguousarray(samples[:, :keep]), rate)
    frames = (np.clip(video, 0, 1) * 255).round().astype(np.uint8)
    size = {"width": request.width, "height": request.height, "fps": request.fps}
    with Mp4Writer(path, **size, audio=audio) as writer:
        for frame in frames:
            writer.write_rgb(frame)
    return video, probe.finish()


def run_engine(
    runtime: DiffusionRuntime, request: RenderRequest, path: Path, probe: Probe
) -> tuple[np.ndarray, Phases]:
    chunks: list[np.ndarray] = []

    def on_progress(fraction: float) -> None:
        if fraction <= 0.9 + 1e-9:  # a step's end; decoding reports above 0.9
            probe.step()

    def on_frames(frames: np.ndarray) -> None:
        chunks.append(frames)
        probe.frames_on_host()

    probe.start()
    runtime.render(request, path, progress=on_progress, frame_sink=on_frames)
    phases = probe.finish()
    return np.concatenate(chunks).astype(np.float32) / 255, phases


def warm_up(runtime: DiffusionRuntime, request: RenderRequest, steps: int) -> None:
    """A denoise of ``steps`` steps at the full shape (compiles, picks kernels, allocates), and
    a decode of two latent frames of the full size (the VAE's kernels), in the options the
    variant runs with."""
    recipe = _recipe(request)
    pipe = runtime.pipeline_for(recipe, request)
    kwargs = families.call_arguments(recipe, request, steps)
    output = families.denoise(pipe, kwargs, lambda _: None)
    with torch.no_grad():
        prepared = families.prepare_decode(pipe, recipe, output, kwargs, seconds=1.0)
        for _ in decode.decoded_chunks(
            pipe,
            prepared.latents[:, :, :2],
            streaming=False,
            decode_timestep=prepared.decode_timestep,
        ):
            pass
    if runtime.expert_swap is not None:
        runtime.expert_swap.release()


def cached_steps(cache: str, step_times: list[float], full_steps: int) -> tuple[float, float, str]:
    """A step cache's mean step over the timed steps, the loop projected to ``full_steps``, and
    how. TaylorSeer's schedule is fixed (``cache_config``): its full and predicted steps are
    timed apart and counted at ``full_steps``; the first-block cache decides step by step."""
    mean = statistics.fmean(step_times)
    if cache != "taylorseer":
        return mean, mean * full_steps, f"{cache}: mean of {len(step_times)} steps"
    config = cache_config(cache)

    def computes(step: int) -> bool:
        first = config.disable_cache_before_step
        return step < first or (step - first - 1) % config.cache_interval == 0

    full = [t for i, t in enumerate(step_times) if computes(i)]
    predicted = [t for i, t in enumerate(step_times) if not computes(i)]
    if not predicted:
        return mean, math.nan, f"{cache}: no step predicted in {len(step_times)}"
    count = sum(computes(i) for i in range(full_steps))
    loop = statistics.fmean(full) * count + statistics.fmean(predicted) * (full_steps - count)
    return (
        mean,
        loop,
        (
            f"{cache}: {len(predicted)} of {len(step_times)} steps predicted here, "
            f"{full_steps - count} of {full_steps} at full length"
        ),
    )


def load_reference(path: Path, model: str, shape: tuple[int, ...]) -> tuple[np.ndarray, float]:
    """Frames (and step time) saved by ``--save-reference`` for the same model and shape."""
    with np.load(path) as saved:
        if str(saved["model"]) != model or tuple(saved["frames"].shape) != shape:
            raise SystemExit(f"{path} holds {saved['model']} {saved['frames'].shape}, not this run")
        return saved["frames"].astype(np.float32), float(saved["step_seconds"])


def _recipe(request: RenderRequest) -> Recipe:
    recipe = recipe_for(request.model_id)
    assert recipe is not None
    return recipe


def compare(result: Result, frames: np.ndarray, reference: np.ndarray) -> None:
    if frames.shape != reference.shape:
        return
    diff = np.abs(frames.astype(np.float64) - reference.astype(np.float64))
    result.max_diff, result.mean_diff = float(diff.max()), float(diff.mean())
    mse = float((diff**2).mean())
    result.psnr = 10 * math.log10(1 / mse) if mse > 0 else math.inf


def main() -> None:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model", default="wan2.1-i2v-14b-480p", choices=sorted(SPECS))
    parser.add_argument("--ratio", default=None, help="an aspect ratio of the model")
    parser.add_argument("--duration", type=int, default=5, help="seconds (frame count follows)")
    parser.add_argument("--frames", type=int, default=None, help="fewer frames: a quick check")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: model's)")
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=None, help="seconds; then skip the rest")
    parser.add_argument("--variants", default="plain,engine", help="of plain,engine; or none")
    parser.add_argument("--lossy", action="store_true", help="also time the lossy variants")
    parser.add_argument(
        "--lossy-variants", default=",".join(LOSSY), help=f"with --lossy: of {','.join(LOSSY)}"
    )
    parser.add_argument("--save-reference", type=Path, default=None, help="the first's frames")
    parser.add_argument("--reference", type=Path, default=None, help="compare with these frames")
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU: a smoke run")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    spec, recipe = SPECS[args.model], recipe_for(args.model)
    assert recipe is not None
    if not args.tiny and not torch.cuda.is_available():
        print("skipped: full-size models need a CUDA GPU (use --tiny for a CPU smoke run)")
        return
    cuda = not args.tiny
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    if args.tiny:
        torch.set_num_threads(1)
        width, height = 64, 64
        num_frames = args.frames or spec.frame_count(1)
    else:
        width, height = spec.frame_size(args.ratio or spec.default_ratio)
        num_frames = args.frames or spec.frame_count(args.duration)
    steps, full_steps = args.steps or recipe.steps, recipe.steps
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
    full_shape = num_frames == spec.frame_count(args.duration) or args.tiny
    report: dict[str, Any] = {
        "model": args.model,
        "shape": {"width": width, "height": height, "frames": num_frames, "fps": spec.fps},
        "full_shape": full_shape,
        "timed_steps": steps,
        "full_steps": full_steps,
        "projection": f"whole video at {full_steps} steps = measured time outside the loop "
        f"+ median step × {full_steps} (the loop itself ran {steps} steps)",
        "device": torch.cuda.get_device_name() if cuda else "cpu (tiny configs)",
        "torch": torch.__version__,
        "diffusers": __import__("diffusers").__version__,
        "platform": platform.platform(),
    }
    results: list[Result] = []

    def save() -> None:
        report["results"] = [asdict(r) for r in results]
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))

    shape_note = "" if full_shape else " (NOT the full shape: per-step figures are for this shape)"
    print(
        f"# {args.model}: {width}×{height}, {num_frames} frames{shape_note}, {steps} timed "
        f"steps (full: {full_steps}), {args.warmup_steps} warm-up, "
        f"{'tiny configs, CPU' if args.tiny else device}, {dtype}",
        flush=True,
    )
    report["peak_tflops"] = peak = matmul_peak(device)
    if cuda:
        print(f"bf16 matmul 8192³: {peak:.0f} TFLOP/s; {report['device']}", flush=True)

    def fresh_pipeline() -> Any:
        """The model with random weights (the same ones each time: seeded), after the previous
        pipeline's memory is given back: each lossy variant gets its own, options applied by
        the engine from scratch."""
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        built = time.perf_counter()
        pipe = build_pipeline(
            args.model, size="tiny" if args.tiny else "full", dtype=dtype, device=device
        )
        if recipe.vae_float32:
            pipe.vae.to(torch.float32)
        pipe.set_progress_bar_config(disable=True)
        report.setdefault("build_seconds", time.perf_counter() - built)
        return pipe

    size: Any = "tiny" if args.tiny else "full"
    layout = build_pipeline(args.model, size=size, dtype=dtype, device="meta")
    forwards = 2 if recipe.uses_guidance else 1
    flops = forwards * transformer_flops(layout, recipe.family, num_frames, height, width)
    report["flops_per_step"] = flops
    del layout
    scratch = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    last_duration = 0.0
    reference: np.ndarray | None = None
    reference_step = math.nan
    if args.reference is not None:
        shape = (num_frames, height, width, 3)
        reference, reference_step = load_reference(args.reference, args.model, shape)
        report["reference"] = str(args.reference)

    def measure(
        name: str,
        lossy: bool,
        runtime: DiffusionRuntime,
        run: Runner,
        at_full: int = full_steps,
        cache: str = "none",
    ) -> None:
        """Warm up, then the timed run; a failure or the deadline is reported, not fatal: one
        broken variant must not cost the rest of a GPU session."""
        nonlocal last_duration, reference, reference_step
        result = Result(name, lossy, timed_steps=runtime.options.steps or steps)
        elapsed = time.monotonic() - started
        if args.deadline is not None and elapsed + last_duration > args.deadline:
            result.status = (
                f"skipped: deadline ({elapsed:.0f} s gone, ~{last_duration:.0f} s needed)"
            )
            print(f"{name}: {result.status}", flush=True)
            results.append(result)
            save()
            return
        began = time.monotonic()
        probe = Probe(runtime.pipe, cuda)
        try:
            warm = time.perf_counter()
            warm_up(runtime, request, args.warmup_steps)
            result.warmup_seconds = time.perf_counter() - warm
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            frames, phases = run(runtime, request, scratch / f"{len(results)}.mp4", probe)
        except Exception as exc:
            result.status = f"failed: {type(exc).__name__}: {exc}"[:500]
            print(f"{name}: {result.status}", flush=True)
            results.append(result)
            save()
            return
        finally:
            probe.close()
        last_duration = time.monotonic() - began
        result.step_seconds = phases.step
        result.phases = {k: v for k, v in asdict(phases).items() if k != "step_times"}
        result.phases["step_times"] = phases.step_times  # type: ignore[assignment]
        outside = phases.total - phases.denoise
        loop = phases.step * at_full
        if cache != "none":  # unequal steps: see cached_steps
            result.step_seconds, loop, result.note = cached_steps(cache, phases.step_times, at_full)
            print(f"{name}: {result.note}", flush=True)
        result.projected_total = outside + loop
        result.outside_loop_share = outside / result.projected_total
        result.peak_gib = torch.cuda.max_memory_allocated() / 2**30 if cuda else math.nan
        if cache == "none":  # a skipped step does no matmuls: no MFU for a cache
            result.tflops = flops / phases.step / 1e12
            result.mfu = result.tflops / peak if peak == peak else math.nan
        if reference is None:
            reference, reference_step = frames, result.step_seconds
            if args.save_reference is not None:
                np.savez(
                    args.save_reference,
                    frames=frames.astype(np.float16),
                    model=args.model,
                    step_seconds=result.step_seconds,
                )
        else:
            compare(result, frames, reference)
        results.append(result)
        save()
        print(row(result, reference_step), flush=True)

    wanted = set(args.variants.split(",")) - {"", "none"}
    if wanted:
        pipe = fresh_pipeline()
        print(f"built with random weights in {report['build_seconds']:.1f} s", flush=True)
        plain = DiffusionRuntime(EngineOptions(device=device, dtype=dtype, steps=steps))
        plain.model_id, plain.pipe = args.model, pipe  # defaults: no options applied
        if "plain" in wanted:  # first: the engine's options change the pipeline in place
            measure("plain diffusers", False, plain, run_plain)
        engine = DiffusionRuntime(engine_options(device, dtype, cuda, steps=steps))
        engine.adopt(args.model, pipe)
        if "engine" in wanted:
            measure("vidgen engine", False, engine, run_engine)
        del pipe, plain, engine
    if args.lossy:
        for variant in args.lossy_variants.split(","):
            pipe = fresh_pipeline()
            lossy_variant(variant, pipe, args.model, device, dtype, cuda, steps, measure)
            del pipe
    print_table(results, full_steps, steps, reference_step)
    print(
        f"\nplatform: {report['platform']}, torch {report['torch']}, diffusers {report['diffusers']}"
    )
    save()


def engine_options(device: str, dtype: torch.dtype, cuda: bool, **lossy: Any) -> EngineOptions:
    """What ``EngineOptions.from_settings`` resolves on this device by default, plus ``lossy``;
    the engine itself then leaves regional compile out where a lossy option rules it out."""
    return EngineOptions(
        device=device,
        dtype=dtype,
        attention="auto" if cuda else None,
        fuse_projections=True,
        compile=cuda,
        **lossy,
    )


def lossy_variant(
    variant: str,
    pipe: Any,
    model: str,
    device: str,
    dtype: torch.dtype,
    cuda: bool,
    steps: int,
    measure: Callable[..., None],
) -> None:
    """One lossy variant on ``pipe`` (fresh): the engine's defaults plus that option."""
    if variant in ("first-block", "taylorseer"):
        runtime = DiffusionRuntime(
            engine_options(device, dtype, cuda, steps=steps, lossy_cache=variant)
        )
        try:
            runtime.adopt(model, pipe)
        except Exception as exc:  # e.g. no first-block hook for this model's blocks
            print(f"{variant} cache: cannot be enabled: {exc}", flush=True)
            return
        measure(f"engine + {variant} cache", True, runtime, run_engine, cache=variant)
    elif variant == "half":
        half = max(1, steps // 2)
        runtime = DiffusionRuntime(engine_options(device, dtype, cuda, steps=half))
        runtime.adopt(model, pipe)
        full = max(1, _recipe_steps(model) // 2)
        measure(f"engine, {half} of {steps} steps", True, runtime, run_engine, full)
    elif variant == "fp8":
        if not cuda:  # float8 storage with float32 compute on a CPU: not a figure anyone uses
            print("engine + fp8 weights: skipped on the CPU", flush=True)
            return
        runtime = DiffusionRuntime(engine_options(device, dtype, cuda, steps=steps, fp8=True))
        runtime.adopt(model, pipe)
        measure("engine + fp8 weights", True, runtime, run_engine)
    else:
        raise SystemExit(f"unknown lossy variant {variant!r}; of {','.join(LOSSY)}")


def _recipe_steps(model: str) -> int:
    recipe = recipe_for(model)
    assert recipe is not None
    return recipe.steps


def row(r: Result, reference_step: float) -> str:
    label = f"{r.variant} (lossy)" if r.lossy else r.variant
    if r.status != "measured":
        return f"| {label} | {r.status} |" + " |" * 15
    p = r.phases
    speedup = reference_step / r.step_seconds
    return (
        f"| {label} | {r.step_seconds:.3f} | {speedup:.2f}× | {p['text_encode']:.2f} "
        f"| {p['before_loop']:.2f} | {p['denoise']:.2f} | {p['vae_decode']:.2f} "
        f"| {p['mp4_encode']:.2f} | {p['total']:.2f} | {r.projected_total:.1f} "
        f"| {r.outside_loop_share:.1%} | {r.peak_gib:.1f} | {r.tflops:.0f} | {r.mfu:.0%} "
        f"| {r.max_diff:.4f} | {r.mean_diff:.5f} | {r.psnr:.1f} | {r.warmup_seconds:.1f} |"
    )


def print_table(results: list[Result], full_steps: int, steps: int, reference_step: float) -> None:
    print(
        f"\n| variant | s/step | speed-up | text enc | before loop | loop ({steps} steps) "
        f"| VAE decode | MP4 | total | projected at {full_steps} steps | outside loop "
        "| peak GiB | TFLOP/s | MFU | max diff | mean diff | PSNR dB | warm-up s |"
    )
    print("|---|" + "---:|" * 17)
    for r in results:
        print(row(r, reference_step))
    for r in results:
        if r.note:
            print(f"{r.variant}: {r.note}")


if __name__ == "__main__":
    main()
