"""The ``diffusers`` engine: open-weight image-to-video models on this machine's GPU.

Route a model to it (``VIDGEN_ROUTES=wan2.2-ti2v-5b=diffusers``) after installing the extra
(``pip install 'vidgen-api[gpu]'``) and pulling the weights (``vidgen models pull wan2.2-ti2v-5b``).

How a job runs:

- One render thread per engine (per process, i.e. per GPU): every load and every render runs
  on it, so jobs use the GPU one at a time even with several worker slots. A job that waits for
  the GPU says so (``report_waiting``), and shows ``queued`` meanwhile.
- The model loads on the first job and stays warm; a job for another model swaps it.
- The request maps onto the model: the first image (filled and cropped to the catalog's frame
  size, which is a size the model accepts) conditions the first frame, a last image the last
  frame where the model can use one; a model with a text-to-video pipeline (LTX-2) also takes a
  prompt alone; a model that makes sound (LTX-2) writes it into the MP4 as an AAC track; the seed seeds a CPU ``torch.Generator``, so the same seed
  gives the same video on the same machine; the duration becomes the model's nearest valid
  frame count (Wan 4k+1, LTX 8k+1) at its own frame rate.
- Progress comes from the denoising steps; a cancel is honoured at the next step, the job's
  memory is freed, and the worker (and the warm model) carry on.

This module imports no torch: the registry loads it on any machine, and ``configuration_problem``
explains what is missing. The GPU work is in ``render.py``, imported on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidgen.core.catalog import ModelSpec
from vidgen.core.models import CapturedImage, GenerationRequest
from vidgen.engines.base import Engine, EngineContext, EngineJob, EngineResult
from vidgen.engines.diffusion.models import recipe_for, spec_for
from vidgen.engines.diffusion.weights import model_dir, weights_problem
from vidgen.errors import EngineError, FieldError, JobCancelled
from vidgen.media.images import fit_image_to_frame, load_rgb
from vidgen.settings import Settings

if TYPE_CHECKING:
    from PIL import Image

    from vidgen.engines.diffusion.render import DiffusionRuntime, RenderRequest

__all__ = ["DiffusersEngine"]

_GPU_EXTRA = ("torch", "diffusers", "transformers", "accelerate", "ftfy")


class DiffusersEngine(Engine):
    """Open-weight Wan, LTX and HunyuanVideo models through diffusers. See the module docstring."""

    name = "diffusers"
    description = (
        "Open-weight image-to-video models (Wan, LTX-Video, LTX-2, HunyuanVideo) on this "
        "machine's GPU."
    )

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffusers-gpu")
        self._gpu = asyncio.Lock()
        self._runtime: DiffusionRuntime | None = None

    # -- start-up and submit-time checks ---------------------------------------------------

    def configuration_problem(self) -> str | None:
        missing = [name for name in _GPU_EXTRA if importlib.util.find_spec(name) is None]
        if missing:
            return (
                f"the diffusers engine needs the gpu extra ({', '.join(missing)} missing): "
                "pip install 'vidgen-api[gpu]' (from a checkout: pip install -e '.[gpu]')"
            )
        if self.settings.gpu_device == "auto" or self.settings.gpu_device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                return (
                    f"no CUDA GPU is visible (torch {torch.__version__}); set "
                    "VIDGEN_GPU_DEVICE=cpu to run on the CPU anyway (practical only for tiny "
                    "test models)"
                )
        return None

    def model_problem(self, spec: ModelSpec) -> str | None:
        if recipe_for(spec.id) is None:
            return "it is not an open-weight model the diffusers engine knows"
        return weights_problem(self.settings, spec.id)

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
        recipe = recipe_for(spec.id)
        if recipe is None:
            return [
                FieldError.naming(spec.id, "model", "{model} cannot run on the diffusers engine")
            ]
        if recipe.needs_last_image and request.last_image is None:
            return [
                FieldError.naming(
                    spec.id,
                    "last_image",
                    "is required for {model}, which animates from a first to a last frame; "
                    "for a first frame alone use wan2.1-i2v-14b-720p",
                )
            ]
        return []

    # -- jobs --------------------------------------------------------------------------------

    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        ctx.raise_if_cancelled()
        spec, recipe = spec_for(job.model), recipe_for(job.model)
        if spec is None or recipe is None:
            raise EngineError(f"The diffusers engine cannot serve {job.model}.")
        if job.first_image is None and recipe.needs_image:
            raise EngineError(f"{job.model} needs a first image.", name="InvalidRequest")
        # Fixed at submit from the model's frame rule (4k+1 for Wan): the job's own count.
        num_frames = job.frame_count
        path = ctx.scratch_dir / "diffusers.mp4"
        stop = threading.Event()

        def work() -> None:
            self._render(job, ctx, path, num_frames, lambda: stop.is_set() or ctx.cancelled)

        if self._gpu.locked():
            ctx.report_waiting(True)
        async with self._gpu:
            ctx.report_waiting(False)
            future = asyncio.get_running_loop().run_in_executor(self._executor, work)
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                # A cancelled await does not stop the thread: tell it to stop at its next step,
                # and keep the GPU until it has, so the next job never shares it.
                stop.set()
                with contextlib.suppress(BaseException):
                    await future
                raise
        return EngineResult(
            path=path,
            width=job.width,
            height=job.height,
            fps=float(job.fps),
            frame_count=num_frames,
        )

    def _render(
        self, job: EngineJob, ctx: EngineContext, path: Path, num_frames: int, should_stop: Any
    ) -> None:
        """On the render thread: load (or reuse) the model, render, write the MP4."""
        if should_stop():  # cancelled while it waited for the GPU: do not load for nothing
            raise JobCancelled()
        runtime = self._ensure_runtime()
        loaded = runtime.ensure_loaded(job.model, model_dir(self.settings, job.model))
        runtime.render(
            self._request(job, num_frames),
            path,
            progress=ctx.report_progress,
            should_stop=should_stop,
            progress_start=0.05 if loaded else 0.0,
        )

    def _ensure_runtime(self) -> DiffusionRuntime:
        if self._runtime is None:
            from vidgen.engines.diffusion.render import DiffusionRuntime, EngineOptions

            self._runtime = DiffusionRuntime(EngineOptions.from_settings(self.settings))
        return self._runtime

    @staticmethod
    def _request(job: EngineJob, num_frames: int) -> RenderRequest:
        from vidgen.engines.diffusion.render import RenderRequest

        return RenderRequest(
            model_id=job.model,
            prompt=job.prompt,
            width=job.width,
            height=job.height,
            num_frames=num_frames,
            fps=job.fps,
            seed=job.seed,
            first_image=(
                _fitted(job.first_image, job.width, job.height, "first image")
                if job.first_image is not None
                else None
            ),
            last_image=(
                _fitted(job.last_image, job.width, job.height, "last image")
                if job.last_image is not None
                else None
            ),
        )

    async def aclose(self) -> None:
        runtime = self._runtime
        if runtime is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, runtime.unload)
        self._executor.shutdown(wait=False)


def _fitted(image: CapturedImage, width: int, height: int, what: str) -> Image.Image:
    try:
        picture = load_rgb(image, at_least=(width, height))
    except Exception as exc:  # verified at submit, so this is storage damage, not user error
        raise EngineError(f"the {what} could not be decoded: {exc}", name="InvalidImage") from exc
    return fit_image_to_frame(picture, width, height)
