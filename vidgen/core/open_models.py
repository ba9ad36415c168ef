"""Open-weight image-to-video models: their catalog entries, as data.

Each entry states what the model really produces: frame sizes that are multiples of what its VAE
and transformer patches need (16 px for Wan 2.1, 32 px for Wan 2.2's 16× VAE and for LTX), the
frame rate it was trained at, and frame counts of the form k × ``frame_step`` + 1 (the VAE
compresses 4 or 8 frames into one latent frame, plus the first frame on its own). Sizes for the
trained aspect ratios are the models' own (832×480, 1280×720, 1280×704, 1216×704); the other
ratios are the nearest sizes on the same grid that stay within the trained pixel count.

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
)
