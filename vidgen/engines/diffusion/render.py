"""The GPU side of the diffusers engine: load a model once, keep it warm, render jobs.

Everything here runs on the engine's one render thread (``engine.py``), so a model is never
used by two jobs at once and CUDA state is touched from a single thread. Imports torch and
diffusers: the engine imports this module only when a job (or a start-up check) needs it.

What makes it faster than calling the pipeline with its defaults, without changing the output
beyond bf16 noise (``bench/diffusion.py`` measures both in one run):

- the attention backend (cuDNN attention on CUDA where every head of the model fits its
  kernels), fused QKV projections and regional ``torch.compile`` of the repeated transformer
  block (``compile_repeated_blocks``): compiled once per process and shape, reused by every later
  job; not with FP8 or a step cache, whose hooks Dynamo cannot trace (``tuning.py``);
- no host syncs in the step loop: progress and cancel are plain Python in the step callback;
- the pipeline returns latents; decoding streams Wan's causal VAE chunk by chunk into the MP4
  encoder, which runs on its own thread (``decode.py``); a model's sound (LTX-2) is decoded first
  and muxed into the same MP4 as an AAC track;
- two-expert models (Wan2.2-I2V-A14B) keep both experts on a GPU that holds them, and with
  offloading move each one once per job, at the expert switch (``offload.py``).

What differs per model family (call arguments, the decode's preparation) is in ``families.py``.

Lossy options (fewer steps, a step cache, FP8 weights) exist only when a setting asks for them.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from vidgen.engines.diffusion import decode, families
from vidgen.engines.diffusion.families import RenderRequest
from vidgen.engines.diffusion.models import Recipe, recipe_for
from vidgen.engines.diffusion.offload import ExpertSwap, apply_offload
from vidgen.engines.diffusion.tuning import cache_config, choose_attention, compile_blocker
from vidgen.errors import EngineError, JobCancelled
from vidgen.media.audio import AudioTrack
from vidgen.media.video import Mp4Writer

if TYPE_CHECKING:  # the settings' pydantic stack stays out of benchmarks and GPU tests
    from vidgen.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["DiffusionRuntime", "EngineOptions", "RenderRequest", "RenderStats"]

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}

#: Progress: loading a model (when needed) fills the first 5 %, the denoising steps up to 90 %,
#: decoding and encoding the rest.
_LOAD_SHARE, _DENOISE_END = 0.05, 0.90


@dataclass(frozen=True)
class EngineOptions:
    """The engine settings, resolved for this machine."""

    device: str
    dtype: torch.dtype
    offload: str = "none"  # none | model | group
    vae_tiling: bool = False
    attention: str | None = None  # None: diffusers' default; "auto": chosen per model
    fuse_projections: bool = False
    compile: bool = False
    steps: int | None = None  # lossy when fewer than the recipe's
    lossy_cache: str = "none"
    fp8: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineOptions:
        device = settings.gpu_device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        cuda = device.startswith("cuda")
        dtype = settings.gpu_dtype
        if dtype == "auto":
            dtype = "bfloat16" if cuda else "float32"
        attention: str | None = settings.gpu_attention
        optimize = settings.gpu_optimize and cuda
        if attention == "auto" and not optimize:
            attention = None  # eager PyTorch picks a kernel per call, cuDNN's among them
        # Measured on an H100 (shared/GPU-NOTES.md): cuDNN attention with regional compile is
        # the fastest lossless combination; the lossy hooks rule compile out (tuning.py).
        blocker = compile_blocker(fp8=settings.gpu_fp8, lossy_cache=settings.gpu_lossy_cache)
        if optimize and blocker:
            log.info("regional torch.compile is off", extra={"reason": blocker})
        tiling = settings.gpu_vae_tiling
        return cls(
            device=device,
            dtype=_DTYPES[dtype],
            offload=settings.gpu_offload,
            vae_tiling=tiling == "on" or (tiling == "auto" and settings.gpu_offload != "none"),
            attention=attention,
            fuse_projections=optimize,
            compile=optimize and blocker is None,
            steps=settings.gpu_steps or None,
            lossy_cache=settings.gpu_lossy_cache,
            fp8=settings.gpu_fp8,
        )


@dataclass
class RenderStats:
    """Where the time went (seconds), for logs and the benchmark."""

    load: float = 0.0
    denoise: float = 0.0  # the pipeline call: text and image encoding, then the steps
    decode_encode: float = 0.0  # VAE decode (and the sound's) overlapped with the MP4 encode
    steps: int = 0
    frames: int = 0
    audio: AudioTrack | None = None  # the sound muxed into the MP4, for models that make it
    timings: dict[str, float] = field(default_factory=dict)


class DiffusionRuntime:
    """One warm model on one device. Not thread-safe: one render thread owns it."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.model_id: str | None = None
        self.pipe: Any = None
        self.expert_swap: ExpertSwap | None = None
        self._text_pipe: Any = None  # the text-to-video pipeline on the same components

    # -- loading ---------------------------------------------------------------------------

    def ensure_loaded(self, model_id: str, path: Path) -> bool:
        """Load ``model_id`` from ``path`` unless it is the warm one; True if it loaded."""
        if self.model_id == model_id and self.pipe is not None:
            return False
        self.unload()
        recipe = _recipe(model_id)
        import diffusers

        pipeline_class = getattr(diffusers, recipe.pipeline_class)
        dtype: Any = self.options.dtype
        if recipe.vae_float32:
            dtype = {"default": self.options.dtype, "vae": torch.float32}
        started = time.perf_counter()
        try:
            pipe = pipeline_class.from_pretrained(str(path), dtype=dtype, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EngineError(
                f"The weights of {model_id} in {path} could not be loaded: {exc}",
                name="ModelUnavailable",
            ) from exc
        self.adopt(model_id, pipe)
        log.info(
            "model loaded",
            extra={"model": model_id, "seconds": round(time.perf_counter() - started, 1)},
        )
        return True

    def adopt(self, model_id: str, pipe: Any) -> None:
        """Make ``pipe`` (loaded, or built by ``architectures.build_pipeline``) the warm model,
        with this runtime's device, memory and speed options applied."""
        self.unload()
        recipe = _recipe(model_id)
        self.expert_swap = _apply_options(pipe, recipe, self.options)
        self.model_id, self.pipe = model_id, pipe

    def unload(self) -> None:
        if self.pipe is None:
            return
        self.pipe, self.model_id, self._text_pipe, self.expert_swap = None, None, None, None
        free_memory()

    def pipeline_for(self, recipe: Recipe, request: RenderRequest) -> Any:
        """The loaded pipeline, or for a request without an image the model's text-to-video
        pipeline, made once from the same components (``from_pipe``: no second copy)."""
        if request.first_image is not None or recipe.text_pipeline_class is None:
            return self.pipe
        if self._text_pipe is None:
            import diffusers

            text_class = getattr(diffusers, recipe.text_pipeline_class)
            self._text_pipe = text_class.from_pipe(self.pipe)
            self._text_pipe.set_progress_bar_config(disable=True)
        return self._text_pipe

    # -- rendering ---------------------------------------------------------------------------

    def render(
        self,
        request: RenderRequest,
        path: Path,
        *,
        progress: Callable[[float], None] = lambda _: None,
        should_stop: Callable[[], bool] = lambda: False,
        progress_start: float = 0.0,
        frame_sink: Callable[[npt.NDArray[np.uint8]], None] | None = None,
    ) -> RenderStats:
        """Render ``request`` into an MP4 at ``path``. Raises ``JobCancelled`` between steps
        once ``should_stop()`` says so; then, as after any failure, the job's GPU memory is
        given back before the exception leaves (nothing of the job stays referenced, not even
        by the traceback). After a success the allocator keeps its blocks: the next job of the
        same shape reuses them instead of asking the driver."""
        if self.pipe is None or self.model_id != request.model_id:
            raise RuntimeError(f"{request.model_id} is not loaded")
        try:
            return self._render(request, path, progress, should_stop, progress_start, frame_sink)
        except BaseException as exc:
            path.unlink(missing_ok=True)
            _release_frames(exc.__traceback__)
            # A step cache's state (the cancelled job's features) goes too; the pipeline resets
            # it only at the end of a call it finishes.
            for model in _transformers(self.pipe):
                if getattr(model, "is_cache_enabled", False):
                    model._reset_stateful_cache()
            free_memory()
            raise

    def _render(
        self,
        request: RenderRequest,
        path: Path,
        progress: Callable[[float], None],
        should_stop: Callable[[], bool],
        progress_start: float,
        frame_sink: Callable[[npt.NDArray[np.uint8]], None] | None,
    ) -> RenderStats:
        recipe = _recipe(request.model_id)
        pipe, stats = self.pipeline_for(recipe, request), RenderStats()
        if request.first_image is None and recipe.needs_image:
            raise EngineError(f"{request.model_id} needs a first image.", name="InvalidRequest")
        families.check_size(pipe, recipe, request)
        kwargs = self.call_arguments(recipe, request)
        steps = families.step_count(kwargs)
        span = _DENOISE_END - progress_start

        def on_step(index: int) -> None:
            # Plain Python only: a .item() or a print of a tensor here would make the host
            # wait for the GPU at every step.
            stats.steps = index + 1
            if should_stop():  # before the progress: a cancelled job's steps count for nothing
                raise JobCancelled()
            progress(progress_start + span * (index + 1) / steps)

        if should_stop():
            raise JobCancelled()
        started = time.perf_counter()
        try:
            output = families.denoise(pipe, kwargs, on_step)
        finally:
            if self.expert_swap is not None:
                self.expert_swap.release()  # the VAE gets the expert's room
        stats.denoise = time.perf_counter() - started

        started = time.perf_counter()
        stats.frames, stats.audio = self._decode_and_encode(
            recipe, request, output, kwargs, path, progress, frame_sink
        )
        stats.decode_encode = time.perf_counter() - started
        if should_stop():
            raise JobCancelled()
        progress(1.0)
        return stats

    def call_arguments(self, recipe: Recipe, request: RenderRequest) -> dict[str, Any]:
        """The pipeline call for ``request``, latents out (the decode is ours)."""
        return families.call_arguments(recipe, request, self.options.steps)

    def _decode_and_encode(
        self,
        recipe: Recipe,
        request: RenderRequest,
        output: tuple[Any, ...],
        kwargs: dict[str, Any],
        path: Path,
        progress: Callable[[float], None],
        frame_sink: Callable[[npt.NDArray[np.uint8]], None] | None,
    ) -> tuple[int, AudioTrack | None]:
        """Decode and encode; ``frame_sink`` (benchmarks, tests) also gets each chunk of frames.
        Returns the frame count and the sound that went into the file."""
        pipe = self.pipeline_for(recipe, request)
        with torch.no_grad():
            prepared = families.prepare_decode(
                pipe, recipe, output, kwargs, seconds=request.num_frames / request.fps
            )
            written = 0

            def on_chunk(frames: int) -> None:
                nonlocal written
                written += frames
                progress(_DENOISE_END + (1 - _DENOISE_END) * 0.95 * written / request.num_frames)

            chunks = decode.decoded_chunks(
                pipe,
                prepared.latents,
                streaming=self.options.offload == "none",
                decode_timestep=prepared.decode_timestep,
            )
            count = 0
            with Mp4Writer(
                path,
                width=request.width,
                height=request.height,
                fps=request.fps,
                audio=prepared.audio,
            ) as writer:
                for frames in decode.host_frames(chunks, on_chunk):
                    if frame_sink is not None:
                        frame_sink(frames)
                    for frame in frames:
                        writer.write_rgb(frame)
                        count += 1
        if count != request.num_frames:
            raise EngineError(
                f"{request.model_id} produced {count} frames, {request.num_frames} were asked"
            )
        return count, prepared.audio


def _recipe(model_id: str) -> Recipe:
    recipe = recipe_for(model_id)
    if recipe is None:
        raise EngineError(f"The diffusers engine has no recipe for {model_id}.")
    return recipe


def _transformers(pipe: Any) -> list[Any]:
    return [
        m
        for m in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None))
        if m is not None
    ]


def _apply_options(pipe: Any, recipe: Recipe, options: EngineOptions) -> ExpertSwap | None:
    """Device placement, memory options, then the speed options, in the order they compose."""
    pipe.set_progress_bar_config(disable=True)
    device = torch.device(options.device)
    transformers = _transformers(pipe)
    for model in transformers:
        # Before FP8: fusing concatenates the weights into new layers, which must be the ones
        # cast (fused from FP8 weights, they would stay FP8 and fail at the first matmul).
        fusable = recipe.family in families.FUSABLE and hasattr(model, "fuse_qkv_projections")
        if options.fuse_projections and fusable:
            model.fuse_qkv_projections()
        if options.fp8:  # lossy, opt-in: weights stored in FP8, computed in the engine's dtype
            model.enable_layerwise_casting(
                storage_dtype=torch.float8_e4m3fn, compute_dtype=options.dtype
            )
    swap = apply_offload(pipe, options.offload, device)
    if options.vae_tiling and hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()
    attention = choose_attention(pipe, options.attention, device, options.dtype)
    log.info(
        "attention backend",
        extra={
            "model": recipe.model_id,
            "backend": attention.backend or "default",
            "reason": attention.reason,
        },
    )
    blocker = compile_blocker(fp8=options.fp8, lossy_cache=options.lossy_cache)
    if options.compile and blocker:
        log.warning("regional torch.compile is off", extra={"reason": blocker})
    for model in transformers:
        if attention.backend:
            # Set on every model, native too: diffusers also makes it the process-wide default,
            # which a model loaded earlier may have left at cuDNN.
            model.set_attention_backend(attention.backend)
        if options.lossy_cache != "none":
            model.enable_cache(cache_config(options.lossy_cache))
        if options.compile and not blocker:
            # One compiled block serves all 30–48 identical blocks: seconds, not minutes, to
            # compile, and no recompiles between jobs of the same shape.
            model.compile_repeated_blocks(fullgraph=True)
    return swap


def _release_frames(tb: TracebackType | None) -> None:
    """Drop the locals of a failed job's finished frames, which its traceback keeps: the job's
    tensors (latents, conditioning, embeddings), which would otherwise live as long as the
    exception does (in the worker, in asyncio's futures and their reference cycles, in a test).

    ``frame.clear()`` leaves the dict that ``locals()`` caches on a frame (CPython 3.11 and
    3.12), and diffusers' pipelines call ``locals()`` at every step for their callbacks: reading
    ``f_locals`` again re-syncs that dict with the cleared frame, which empties it."""
    while tb is not None:
        frame = tb.tb_frame
        try:
            frame.clear()
        except RuntimeError:  # still running: the frame of ``render`` itself
            pass
        else:
            frame.f_locals  # noqa: B018 (read for its effect)
        tb = tb.tb_next


def free_memory() -> None:
    """Give the memory of a stopped job (or an unloaded model) back: the Python cycles that may
    still hold its tensors (an exception's traceback holds the frames that hold the latents),
    then the CUDA caching allocator's blocks, so the next job or another process has it.
    A full collection costs most of a second with torch loaded, so it is not run per job."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
