"""Open-weight image-to-video models: their catalog entries, as data.

Each entry states what the model really produces: frame sizes that are multiples of what its VAE
and transformer patches need (16 px for Wan 2.1, 32 px for Wan 2.2's 16× VAE and for LTX), the
frame rate it was trained at, and frame counts of the form k × ``frame_step`` + 1 (the VAE
compresses 4 or 8 frames into one latent frame, plus the first frame on its own). Sizes for the
trained aspect ratios are the models' own (832×480, 1280×720, 1280×704, 1216×704, 848×480,
768×512); the other ratios are the nearest sizes on the same grid that stay within the trained
pixel count (HunyuanVideo-1.5 picks its own buckets, which are listed as it computes them).

Where each figure comes from is written beside it: the pipelines' own defaults and docstrings in
diffusers 0.42.1, and the model makers' own sampling configs where diffusers leaves a value to the
checkpoint's config files.

These models are served by the ``diffusers`` engine (``pip install 'vidgen-api[gpu]'``), which
knows how to run each one (``vidgen/engines/diffusion/models.py``). A server lists one only when
``VIDGEN_ROUTES`` names it: ``wan2.2-ti2v-5b=diffusers`` on a GPU machine, or
``wan2.2-ti2v-5b=preview`` to emulate it, with its real sizes and frame rates, on a laptop.
"""

from __future__ import annotations

from fractions import Fraction
from types import MappingProxyType

from vidgen.core.catalog import ModelSpec

__all__ = ["OPEN_WEIGHT_MODELS"]

#: Wan 2.1 at 480p: 832×480 trained, multiples of 16, at most 399,360 pixels.
WAN21_480P_SIZES = {
    "16:9": (832, 480),
    "9:16": (480, 832),
    "4:3": (720, 544),
    "3:4": (544, 720),
    "1:1": (624, 624),
}
#: Wan 2.1 at 720p: 1280×720 trained, multiples of 16, at most 921,600 pixels.
WAN21_720P_SIZES = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "4:3": (1104, 832),
    "3:4": (832, 1104),
    "1:1": (960, 960),
}
#: Wan 2.2 TI2V 5B: 1280×704 trained, multiples of 32 (16× VAE, 2×2 patches).
WAN22_5B_SIZES = {
    "16:9": (1280, 704),
    "9:16": (704, 1280),
    "4:3": (1024, 768),
    "3:4": (768, 1024),
    "1:1": (928, 928),
}
#: LTX-Video 0.9.7: 1216×704 as Lightricks publish it, multiples of 32.
LTX_SIZES = {
    "16:9": (1216, 704),
    "9:16": (704, 1216),
    "4:3": (1024, 768),
    "3:4": (768, 1024),
    "1:1": (896, 896),
}


#: HunyuanVideo-1.5 480p: the pipeline does not take a size; it picks the bucket nearest the
#: image's aspect ratio among sizes of about 640² pixels on a 16 px grid
#: (``HunyuanVideo15ImageProcessor.calculate_default_height_width`` with the transformer's
#: ``target_size=640``). These are the buckets it picks for an image of that very size (its
#: choice is not symmetric: portrait 9:16 and 3:4 land on 480×832 and 560×720), so the fitted
#: first image already has the size the model renders.
HUNYUAN15_480P_SIZES = {
    "16:9": (848, 480),
    "9:16": (480, 832),
    "4:3": (720, 544),
    "3:4": (560, 720),
    "1:1": (640, 640),
}
#: LTX-2: 32 px grid (32× spatial VAE, 1×1 patches). 768×512 is the size of every example in
#: diffusers' LTX-2 pipelines (``pipeline_ltx2.py``, ``pipeline_ltx2_image2video.py``, the
#: distilled example in ``pipeline_ltx2_hdr_lora.py``), the single-stage size; the other ratios
#: stay within its 393,216 pixels.
LTX2_SIZES = {
    "3:2": (768, 512),
    "2:3": (512, 768),
    "16:9": (800, 448),
    "9:16": (448, 800),
    "4:3": (704, 544),
    "3:4": (544, 704),
    "1:1": (608, 608),
}


_WAN_DURATIONS = (1, 2, 3, 4, 5)
_LTX_DURATIONS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)

OPEN_WEIGHT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="wan2.2-ti2v-5b",
        title="Wan 2.2 TI2V 5B (self-hosted)",
        frame_sizes=MappingProxyType(WAN22_5B_SIZES),
        default_ratio="16:9",
        durations=_WAN_DURATIONS,
        default_duration=5,
        # Priced by the second: self-hosted time is GPU time.
        credits_per_second=Fraction(2),
        fps=24,
        frame_step=4,
        accepts_last_image=False,
        description="Open-weight image to video, 720p at 24 fps (121 frames for 5 s). "
        "First frame only.",
    ),
    ModelSpec(
        id="wan2.1-i2v-14b-480p",
        title="Wan 2.1 I2V 14B 480p (self-hosted)",
        frame_sizes=MappingProxyType(WAN21_480P_SIZES),
        default_ratio="16:9",
        durations=_WAN_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(3),
        fps=16,
        frame_step=4,
        accepts_last_image=False,
        description="Open-weight image to video, quality class, 480p at 16 fps (81 frames for "
        "5 s). First frame only; wan2.1-flf2v-14b-720p takes a last frame too.",
    ),
    ModelSpec(
        id="wan2.1-i2v-14b-720p",
        title="Wan 2.1 I2V 14B 720p (self-hosted)",
        frame_sizes=MappingProxyType(WAN21_720P_SIZES),
        default_ratio="16:9",
        durations=_WAN_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(6),
        fps=16,
        frame_step=4,
        accepts_last_image=False,
        description="Open-weight image to video, quality class, 720p at 16 fps (81 frames for "
        "5 s). First frame only; wan2.1-flf2v-14b-720p takes a last frame too.",
    ),
    ModelSpec(
        id="wan2.1-flf2v-14b-720p",
        title="Wan 2.1 FLF2V 14B 720p (self-hosted)",
        frame_sizes=MappingProxyType(WAN21_720P_SIZES),
        default_ratio="16:9",
        durations=_WAN_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(6),
        fps=16,
        frame_step=4,
        accepts_last_image=True,
        description="Open-weight first-and-last-frame to video, 720p at 16 fps. Needs both a "
        "first and a last image.",
    ),
    ModelSpec(
        id="ltx-video-0.9.7-distilled",
        title="LTX-Video 0.9.7 13B distilled (self-hosted)",
        frame_sizes=MappingProxyType(LTX_SIZES),
        default_ratio="16:9",
        durations=_LTX_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(1),
        fps=24,
        frame_step=8,
        accepts_last_image=True,
        description="Open-weight image to video, speed class: 8 steps without guidance, "
        "1216×704 at 24 fps (121 frames for 5 s). Takes a last frame too.",
    ),
    # Wan2.2-I2V-A14B: two 14B experts (high noise, then low noise), the Wan 2.1 VAE (8× in
    # space, 4× in time) and 2×2 patches, so the Wan 2.1 grids and sizes; 81 frames at 16 fps
    # (Wan's shared sampling config: frame_num=81, sample_fps=16; diffusers'
    # WanImageToVideoPipeline defaults: 480×832, 81 frames). One checkpoint serves both sizes.
    ModelSpec(
        id="wan2.2-i2v-a14b-480p",
        title="Wan 2.2 I2V A14B 480p (self-hosted)",
        frame_sizes=MappingProxyType(WAN21_480P_SIZES),
        default_ratio="16:9",
        durations=_WAN_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(4),
        fps=16,
        frame_step=4,
        accepts_last_image=False,
        description="Open-weight image to video, the quality leader of the open models: two "
        "14B experts, 480p at 16 fps (81 frames for 5 s). First frame only.",
    ),
    ModelSpec(
        id="wan2.2-i2v-a14b-720p",
        title="Wan 2.2 I2V A14B 720p (self-hosted)",
        frame_sizes=MappingProxyType(WAN21_720P_SIZES),
        default_ratio="16:9",
        durations=_WAN_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(8),
        fps=16,
        frame_step=4,
        accepts_last_image=False,
        description="Open-weight image to video, the quality leader of the open models: two "
        "14B experts, 720p at 16 fps (81 frames for 5 s). First frame only.",
    ),
    # LTX-2.3 distilled: video with synchronized sound. 32× spatial and 8× temporal VAE, so
    # 8k+1 frames; 24 fps and 121 frames are the pipeline's defaults (``frame_rate=24.0``,
    # ``num_frames`` 121 for checkpoints without a duration head). Text alone or a first image.
    ModelSpec(
        id="ltx-2.3-distilled",
        title="LTX-2.3 distilled, video with sound (self-hosted)",
        frame_sizes=MappingProxyType(LTX2_SIZES),
        default_ratio="3:2",
        durations=_LTX_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(1),
        fps=24,
        frame_step=8,
        requires_image=False,
        accepts_last_image=False,
        description="Open-weight text or image to video with a synchronized AAC sound track, "
        "speed class: 8 steps without guidance, 768×512 at 24 fps (121 frames for 5 s).",
    ),
    # HunyuanVideo-1.5 480p I2V: 16× spatial, 4× temporal VAE, 1×1 patches; 121 frames at
    # 24 fps (the pipeline's ``num_frames=121`` default and its docstring's
    # ``export_to_video(..., fps=24)``).
    ModelSpec(
        id="hunyuanvideo-1.5-i2v-480p",
        title="HunyuanVideo 1.5 I2V 480p (self-hosted)",
        frame_sizes=MappingProxyType(HUNYUAN15_480P_SIZES),
        default_ratio="16:9",
        durations=_WAN_DURATIONS,
        default_duration=5,
        credits_per_second=Fraction(3),
        fps=24,
        frame_step=4,
        accepts_last_image=False,
        description="Open-weight image to video, 8.3B parameters, 480p at 24 fps (121 frames "
        "for 5 s). First frame only.",
    ),
)
