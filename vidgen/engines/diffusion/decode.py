"""From final latents to encoded MP4 frames, with the GPU and the encoder working side by side.

diffusers decodes the whole clip, converts it to float numpy on the host, and only then could
an encoder start. Here the Wan VAE, which is causal in time and decodes one latent frame (four
video frames) at a time anyway, hands over each chunk as soon as it exists: the chunk is turned
into uint8 RGB on the device (a quarter of the bytes to copy), copied to pinned host memory
without blocking, and the ``Mp4Writer`` (whose x264 runs on its own thread) encodes it while the
GPU decodes the next chunk. The frames are the ones ``vae.decode`` gives, bit for bit
(``tests/unit/test_diffusion_engine.py`` checks it against diffusers' own decode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["decoded_chunks", "host_frames", "to_uint8_frames"]


def to_uint8_frames(video: torch.Tensor) -> torch.Tensor:
    """A decoded (1, 3, F, H, W) clip in [-1, 1] as (F, H, W, 3) uint8, on its device.

    The same mapping as diffusers' post-processing ((x + 1) / 2, clamped), then rounded to the
    nearest level instead of truncated.
    """
    frames = (video[0].float() / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8)
    return frames.permute(1, 2, 3, 0).contiguous()


def decoded_chunks(
    pipe: Any, latents: torch.Tensor, *, streaming: bool, decode_timestep: torch.Tensor | None
) -> Iterator[torch.Tensor]:
    """Decode denormalized ``latents`` with ``pipe.vae``: (1, 3, F, H, W) chunks in [-1, 1].

    With ``streaming`` and a Wan VAE (untiled), one chunk per latent frame; otherwise the whole
    clip at once (tiled decode, LTX, offloaded VAEs whose hooks must see ``decode``).
    """
    vae = pipe.vae
    if streaming and _can_stream_wan(vae, latents):
        yield from _wan_streaming_decode(vae, latents)
        return
    if decode_timestep is not None:
        yield vae.decode(latents, decode_timestep, return_dict=False)[0]
    else:
        yield vae.decode(latents, return_dict=False)[0]


def _can_stream_wan(vae: Any, latents: torch.Tensor) -> bool:
    needed = ("clear_cache", "post_quant_conv", "decoder", "_feat_map")
    if type(vae).__name__ != "AutoencoderKLWan" or not all(hasattr(vae, n) for n in needed):
        return False
    if getattr(vae, "use_tiling", False):
        tile_h = vae.tile_sample_min_height // vae.spatial_compression_ratio
        tile_w = vae.tile_sample_min_width // vae.spatial_compression_ratio
        if latents.shape[-1] > tile_w or latents.shape[-2] > tile_h:
            return False  # tiled decode has its own loop
    return True


def _wan_streaming_decode(vae: Any, latents: torch.Tensor) -> Iterator[torch.Tensor]:
    """The loop of ``AutoencoderKLWan._decode``, yielding as it goes instead of concatenating."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

    vae.clear_cache()
    try:
        hidden = vae.post_quant_conv(latents)
        for index in range(hidden.shape[2]):
            vae._conv_idx = [0]
            out = vae.decoder(
                hidden[:, :, index : index + 1],
                feat_cache=vae._feat_map,
                feat_idx=vae._conv_idx,
                first_chunk=index == 0,
            )
            if vae.config.patch_size is not None:
                out = unpatchify(out, patch_size=vae.config.patch_size)
            yield torch.clamp(out, min=-1.0, max=1.0)
    finally:
        vae.clear_cache()


def host_frames(
    chunks: Iterator[torch.Tensor], on_chunk: Callable[[int], None] | None = None
) -> Iterator[npt.NDArray[np.uint8]]:
    """uint8 (F, H, W, 3) host arrays for each decoded chunk, one chunk behind the device.

    On CUDA, chunk k's copy to pinned memory is queued right behind its kernels; the caller then
    receives chunk k-1 (long finished) while chunk k+1 is being computed, so encoding overlaps
    decoding. ``on_chunk`` is told each chunk's frame count when its kernels are queued.
    """
    pending: tuple[torch.Tensor, torch.cuda.Event | None] | None = None
    for chunk in chunks:
        frames = to_uint8_frames(chunk)
        if on_chunk is not None:
            on_chunk(int(frames.shape[0]))
        staged = _stage(frames)
        if pending is not None:
            yield _collect(pending)
        pending = staged
    if pending is not None:
        yield _collect(pending)


def _stage(frames: torch.Tensor) -> tuple[torch.Tensor, torch.cuda.Event | None]:
    if frames.device.type != "cuda":
        return frames, None
    host = torch.empty(frames.shape, dtype=frames.dtype, pin_memory=True)
    host.copy_(frames, non_blocking=True)
    event = torch.cuda.Event()  # type: ignore[no-untyped-call]
    event.record()
    return host, event


def _collect(staged: tuple[torch.Tensor, torch.cuda.Event | None]) -> npt.NDArray[np.uint8]:
    host, event = staged
    if event is not None:
        event.synchronize()
    return host.numpy()
