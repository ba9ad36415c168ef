"""Benchmark: the preview engine on a 5 s 1280×720 clip, against plainly encoding still frames.

Run from the repository root::

    .venv/bin/python bench/preview_engine.py [--reps 7] [--prompt "pan left"] [--tail]

In one run, interleaved so that a busy neighbour slows both sides alike, it times:

- ``engine``: ``PreviewEngine.generate`` end to end, as the worker calls it: decode the input JPEG,
  fit it, convert it, plan the move, warp 120 frames, encode, faststart rewrite;
- ``still``: the same ``Mp4Writer`` with the same encoder settings fed the same number of copies of
  the fitted first frame: the floor set by x264 alone;
- ``frames``: the engine's frame generation without any encoding.

It prints the median and the best of each (wall seconds, and CPU seconds of this process), the
engine/still ratio of the medians, and the load average, since on a shared 2-core VM a neighbour's
job moves every figure. It is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidgen.core.engine import EngineContext, EngineJob
from vidgen.core.models import CapturedImage
from vidgen.engines.preview import PreviewEngine, fitted_planes, render_frame
from vidgen.engines.preview_motion import plan_motion
from vidgen.engines.preview_scene import render_scene
from vidgen.media.images import inspect_image
from vidgen.media.video import DEFAULT_ENCODER, Mp4Writer, Yuv420Planes
from vidgen.settings import Settings


class BenchContext(EngineContext):
    def __init__(self, scratch_dir: Path) -> None:
        self.scratch_dir = scratch_dir

    def report_progress(self, fraction: float) -> None:
        pass

    def report_waiting(self, waiting: bool) -> None:
        pass

    @property
    def cancelled(self) -> bool:
        return False

    async def save_state(self, **state: Any) -> None:
        pass


def synthetic_photo(width: int, height: int, seed: int) -> bytes:
    """A 1920×1080-class JPEG that compresses like a photo: a landscape's large shapes, 1/f
    texture (the spectrum of natural images) on the land, and a little sensor noise."""
    rng = np.random.default_rng(seed)
    scene = render_scene("hills at golden hour", seed, width=width, height=height).astype(
        np.float32
    )
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.hypot(fx, fy)
    frequency[0, 0] = 1.0
    spectrum = (
        rng.normal(size=frequency.shape) + 1j * rng.normal(size=frequency.shape)
    ) / frequency
    texture = np.fft.irfft2(spectrum, s=(height, width))
    texture = (texture - texture.mean()) / texture.std()
    land = (scene.mean(axis=2) < scene[: height // 3].mean()).astype(np.float32)  # darker = land
    scene += (texture * 28 * (0.25 + 0.75 * land))[:, :, None].astype(np.float32)
    scene += rng.normal(0, 2.0, scene.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def timed(function: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--prompt", default="slow zoom in on the valley")
    parser.add_argument("--tail", action="store_true", help="also give a tail image")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    width, height, fps = args.width, args.height, 24
    count = args.seconds * fps

    def captured(seed: int) -> CapturedImage:
        return inspect_image(synthetic_photo(1920, 1080, seed), max_pixels=40_000_000)

    first = captured(1)
    job = EngineJob(
        id="bench",
        model="runway/gen4_turbo",
        prompt=args.prompt,
        aspect_ratio="16:9",
        width=width,
        height=height,
        fps=fps,
        duration=args.seconds,
        frame_count=count,
        seed=7,
        first_image=first,
        last_image=captured(2) if args.tail else None,
    )
    engine = PreviewEngine(Settings())
    fitted = fitted_planes(first, width, height)
    tail = fitted_planes(job.last_image, width, height) if job.last_image else None
    plan = plan_motion(job.prompt, job.seed, has_tail=tail is not None)

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)

        def run_engine() -> None:
            asyncio.run(engine.generate(job, BenchContext(scratch_dir)))

        def run_still() -> None:
            with Mp4Writer(scratch_dir / "still.mp4", width=width, height=height, fps=fps) as out:
                for _ in range(count):
                    out.write_yuv(fitted)

        def run_frames() -> None:
            frame = Yuv420Planes.empty(width, height)
            scratch = Yuv420Planes.empty(width, height)
            for index in range(count):
                render_frame(plan, index / (count - 1), fitted, tail, frame, scratch)

        run_engine()  # warm-up: imports, first allocation of the thread pools
        load_before = os.getloadavg()[0]
        results: dict[str, list[tuple[float, float]]] = {"engine": [], "still": [], "frames": []}
        for _ in range(args.reps):
            results["engine"].append(timed(run_engine))
            results["still"].append(timed(run_still))
            results["frames"].append(timed(run_frames))
        load_after = os.getloadavg()[0]
        engine_size = (scratch_dir / "preview.mp4").stat().st_size
        still_size = (scratch_dir / "still.mp4").stat().st_size

    encoder = DEFAULT_ENCODER
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs; load average {load_before:.2f} → "
        f"{load_after:.2f}"
    )
    print(
        f"clip: {width}×{height}, {count} frames at {fps} fps, prompt {args.prompt!r}"
        f"{', with a tail image' if args.tail else ''}"
    )
    print(
        f"encoder: libx264 preset={encoder.preset} crf={encoder.crf} "
        f"x264-params={encoder.x264_params!r} threads={encoder.threads}"
    )
    print(f"{'':8} {'median s':>9} {'best s':>8} {'median CPU s':>13}")
    medians = {}
    for name, runs in results.items():
        walls = [wall for wall, _ in runs]
        medians[name] = statistics.median(walls)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:8} {medians[name]:9.3f} {min(walls):8.3f} {cpu:13.3f}")
    print(f"ratio engine / still (medians): {medians['engine'] / medians['still']:.2f}")
    print(f"file sizes: engine {engine_size / 1e6:.2f} MB, still {still_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
