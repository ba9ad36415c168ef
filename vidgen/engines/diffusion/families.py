"""What differs between the model families: how a request becomes a pipeline call, and how the
pipeline's final latents become frames (and sound) exactly as the pipeline's own decode would
make them. ``render.py`` runs the common part (loading, options, progress, the MP4).

- Wan (2.1, 2.2 TI2V 5B, 2.2 I2V A14B with its two experts): latents are normalized; the VAE is
  causal in time and is streamed chunk by chunk (``decode.py``).
- LTX-Video: denormalize, then the decode-time noise of 0.9.1+ VAEs.
- LTX-2: ``output_type="latent"`` hands back denormalized video latents and the audio latents;
  the audio VAE and the vocoder make the waveform, which becomes the MP4's AAC track. Without a
  first image, the text-to-video pipeline runs on the same components.
- HunyuanVideo-1.5: latents scaled by the VAE's ``scaling_factor``; the pipeline picks the frame
  size itself from the image (the catalog's sizes are those picks); it has no step callback, so
  steps are observed at the scheduler.

Imports torch; the engine imports it on first use.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vidgen.engines.diffusion.models import Recipe
from vidgen.errors import EngineError
from vidgen.media.audio import AudioTrack

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "FUSABLE",
    "DecodeInput",
    "RenderRequest",
    "call_arguments",
    "check_size",
    "denoise",
    "prepare_decode",
    "step_count",
]


@dataclass(frozen=True)
class RenderRequest:
    """One job, mapped to the model: images already fitted to ``width``×``height``. Defined here,
    where the families read it, so that ``render.py`` (which re-exports it) imports this module
    and never the other way round."""

    model_id: str
    prompt: str
    width: int
    height: int
    num_frames: int
    fps: int
    seed: int
    first_image: Image.Image | None  # None: text to video (models with a text pipeline)
    last_image: Image.Image | None = None


#: Families whose attention diffusers' ``fuse_qkv_projections`` can fuse. LTX-2's
#: audio↔video cross-attention takes queries and keys of different widths, which that fusion
#: does not handle (it fails on the first such block), so LTX-2 keeps separate projections.
FUSABLE = frozenset({"wan", "ltx", "hunyuan"})

StepCallback = Callable[[int], None]


@dataclass
class DecodeInput:
    """What the VAE decodes (denormalized latents, the decode timestep of timestep-conditioned
    VAEs) and the clip's sound, if the model makes any."""

    latents: torch.Tensor
    decode_timestep: torch.Tensor | None = None
    audio: AudioTrack | None = None


def call_arguments(recipe: Recipe, request: RenderRequest, steps: int | None) -> dict[str, Any]:
    """The pipeline call for ``request`` (latents out: the decode is the engine's). ``steps``
    overrides the recipe's step count (lossy, opt-in); a distilled schedule of another length is
    then dropped for the scheduler's own."""
    wanted = steps or recipe.steps
    kwargs: dict[str, Any] = {
        "prompt": request.prompt,
        "num_frames": request.num_frames,
        # A CPU generator: the same seed gives the same noise on any GPU model and count.
        "generator": torch.Generator("cpu").manual_seed(request.seed),
    }
    if recipe.family != "hunyuan":  # HunyuanVideo-1.5 sizes itself from the image
        kwargs.update(height=request.height, width=request.width)
        kwargs["guidance_scale"] = recipe.guidance_scale  # Hunyuan's is its guider's config
    if recipe.uses_guidance:
        kwargs["negative_prompt"] = recipe.negative_prompt
    options = dict(recipe.call_options)
    for schedule in ("timesteps", "sigmas"):
        if steps and schedule in options and steps != len(options[schedule]):
            options.pop(schedule)  # a different count than the distilled schedule
    if "timesteps" not in options:
        kwargs["num_inference_steps"] = wanted
    if "sigmas" in options:
        kwargs["num_inference_steps"] = len(options["sigmas"])
    kwargs.update(options)
    # Decoding is the engine's; the pipeline's decode-only options stay with it.
    kwargs.pop("decode_timestep", None)
    kwargs.pop("decode_noise_scale", None)
    if recipe.family in ("wan", "hunyuan"):
        kwargs["image"] = request.first_image
        if request.last_image is not None:
            kwargs["last_image"] = request.last_image
    elif recipe.family == "ltx2":
        if request.first_image is not None:
            kwargs["image"] = request.first_image
        kwargs["frame_rate"] = float(request.fps)
    else:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        conditions = [LTXVideoCondition(image=request.first_image, frame_index=0)]
        if request.last_image is not None:
            conditions.append(
                LTXVideoCondition(image=request.last_image, frame_index=request.num_frames - 1)
            )
        kwargs["conditions"] = conditions
        kwargs["frame_rate"] = request.fps
    return kwargs


def step_count(kwargs: dict[str, Any]) -> int:
    return int(kwargs.get("num_inference_steps") or len(kwargs.get("timesteps", ())))


def check_size(pipe: Any, recipe: Recipe, request: RenderRequest) -> None:
    """HunyuanVideo-1.5 renders at the size bucket nearest the image's ratio: refuse a request
    whose size is not that bucket instead of writing frames of another size."""
    if recipe.family != "hunyuan":
        return
    height, width = pipe.video_processor.calculate_default_height_width(
        height=request.height, width=request.width, target_size=pipe.target_size
    )
    if (width, height) != (request.width, request.height):
        raise EngineError(
            f"{recipe.model_id} renders {request.width}×{request.height} images at {width}×"
            f"{height}; its catalog sizes are the ones it renders at"
        )


def denoise(
    pipe: Any, kwargs: dict[str, Any], on_step: StepCallback, *, output_type: str = "latent"
) -> tuple[Any, ...]:
    """Run the pipeline to its final latents (or, for benchmarks comparing with the pipeline's
    own decode, to ``output_type``), calling ``on_step(index)`` after each step.

    The step callback is where the pipeline has one (plain Python there: a ``.item()`` would make
    the host wait for the GPU at every step); HunyuanVideo-1.5 has none, so its scheduler's
    ``step`` is observed instead (exactly one per denoising step)."""
    if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:

        def on_step_end(_p: Any, index: int, _t: Any, _k: dict[str, Any]) -> dict[str, Any]:
            on_step(index)
            return {}

        return tuple(
            pipe(
                **kwargs,
                output_type=output_type,
                return_dict=False,
                callback_on_step_end=on_step_end,
            )
        )
    with _observed_steps(pipe.scheduler, on_step):
        return tuple(pipe(**kwargs, output_type=output_type, return_dict=False))


@contextmanager
def _observed_steps(scheduler: Any, on_step: StepCallback) -> Iterator[None]:
    original = scheduler.step
    index = 0

    def step(*args: Any, **kwargs: Any) -> Any:
        nonlocal index
        result = original(*args, **kwargs)
        on_step(index)
        index += 1
        return result

    scheduler.step = step
    try:
        yield
    finally:
        del scheduler.step  # the instance attribute goes; the class's method is back


def prepare_decode(
    pipe: Any, recipe: Recipe, output: tuple[Any, ...], kwargs: dict[str, Any], seconds: float
) -> DecodeInput:
    """What the pipeline's own decode does to its final latents before ``vae.decode``, and for
    LTX-2 the sound (``seconds`` long at most, the video's length)."""
    latents = output[0]
    vae = pipe.vae
    if recipe.family == "wan":
        return DecodeInput(_wan_denormalize(vae, latents))
    if recipe.family == "hunyuan":
        return DecodeInput(latents.to(vae.dtype) / vae.config.scaling_factor)
    if recipe.family == "ltx":
        return DecodeInput(*_ltx_prepare_decode(pipe, recipe, latents, kwargs))
    video, timestep = _ltx2_prepare_decode(pipe, recipe, latents, kwargs)
    return DecodeInput(video, timestep, _ltx2_audio(pipe, output[1], seconds))


def _wan_denormalize(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """What WanImageToVideoPipeline does before ``vae.decode``: undo the latent normalization.

    The latents stay on the device the pipeline denoised on (its execution device), as the
    pipeline keeps them: under model offload the VAE's weights wait on the CPU until its hook
    brings them over inside ``vae.decode``, and that hook moves the weights, not the input."""
    latents = latents.to(dtype=vae.dtype)
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean).view(shape).to(latents.device, latents.dtype)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(shape).to(
        latents.device, latents.dtype
    )
    return latents / inv_std + mean


def _decode_noise(
    recipe: Recipe, latents: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decode-time noise of timestep-conditioned LTX VAEs, drawn from the job's generator
    after denoising, exactly as the pipelines draw it; returns the noised latents and the
    decode timestep."""
    from diffusers.utils.torch_utils import randn_tensor

    decode_t = float(recipe.call_options.get("decode_timestep", 0.0))
    noise_scale = float(recipe.call_options.get("decode_noise_scale", decode_t))
    noise = randn_tensor(
        latents.shape, generator=generator, device=latents.device, dtype=latents.dtype
    )
    timestep = torch.tensor([decode_t], device=latents.device, dtype=latents.dtype)
    scale = torch.tensor([noise_scale], device=latents.device, dtype=latents.dtype)
    scale = scale[:, None, None, None, None]
    return (1 - scale) * latents + scale * noise, timestep


def _ltx_prepare_decode(
    pipe: Any, recipe: Recipe, latents: torch.Tensor, kwargs: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """LTXConditionPipeline before ``vae.decode``: denormalize, then (0.9.1+) the decode noise."""
    vae = pipe.vae
    latents = pipe._denormalize_latents(
        latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor
    )
    latents = latents.to(pipe.transformer.dtype)
    if not vae.config.timestep_conditioning:
        return latents, None
    return _decode_noise(recipe, latents, kwargs["generator"])


def _ltx2_prepare_decode(
    pipe: Any, recipe: Recipe, latents: torch.Tensor, kwargs: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """LTX-2's latent output is already denormalized; a timestep-conditioned VAE gets its decode
    noise in the normalized space, as the pipeline adds it there."""
    vae = pipe.vae
    if not vae.config.timestep_conditioning:
        return latents.to(vae.dtype), None
    mean, std, factor = vae.latents_mean, vae.latents_std, vae.config.scaling_factor
    latents = pipe._normalize_latents(latents, mean, std, factor)
    latents, timestep = _decode_noise(recipe, latents, kwargs["generator"])
    latents = pipe._denormalize_latents(latents, mean, std, factor)
    return latents.to(vae.dtype), timestep


def _ltx2_audio(pipe: Any, audio_latents: torch.Tensor, seconds: float) -> AudioTrack:
    """Audio VAE then vocoder, as the pipeline's own output path runs them; trimmed to the
    video's length (the audio latents are rounded up to whole latent frames)."""
    with torch.no_grad():
        mel = pipe.audio_vae.decode(audio_latents.to(pipe.audio_vae.dtype), return_dict=False)[0]
        waveform = pipe.vocoder(mel)
    rate = int(pipe.vocoder.config.output_sampling_rate)
    samples = waveform[0].float().clamp(-1, 1).cpu().numpy()
    keep = min(samples.shape[-1], round(seconds * rate))
    return AudioTrack(np.ascontiguousarray(samples[:, :keep], dtype=np.float32), rate)
