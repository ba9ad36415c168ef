"""How the diffusers engine runs each open-weight model: one recipe per catalog id.

The catalog entry (``vidgen/core/open_models.py``) says what a model produces; the recipe says
where its weights come from and how to call its pipeline: the pipeline class, steps, guidance,
the negative prompt, and the family's quirks. Pure data: importing this module imports no
torch, so the registry, the CLI and start-up checks work without the ``gpu`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from vidgen.core.catalog import ModelSpec
from vidgen.core.open_models import OPEN_WEIGHT_MODELS

__all__ = ["RECIPES", "Recipe", "recipe_for", "spec_for"]

Family = Literal["wan", "ltx"]

#: Wan's own default negative prompt (its shared sampling config), kept in the language the
#: model was trained with: it names what the sampler should steer away from (oversaturation,
#: static frames, subtitles, extra fingers, …).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，"
    "低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，"
    "毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"


@dataclass(frozen=True)
class Recipe:
    """How to load and call one model."""

    model_id: str
    family: Family
    hub_repo: str  # what `vidgen models pull` downloads (diffusers layout)
    pipeline_class: str  # a diffusers pipeline class name
    steps: int
    guidance_scale: float
    negative_prompt: str
    download_gb: float  # rough size of the download, for the "what to download" messages
    parameters_b: float  # transformer parameters, billions
    needs_last_image: bool = False  # FLF2V: trained on first + last frame only
    # Wan's VAE is run in float32 in Wan's own code and in diffusers' examples: its decoder
    # loses detail in bf16. The transformer and text encoder still run in the engine's dtype.
    vae_float32: bool = False
    # Extra keyword arguments for the pipeline call (LTX's distilled timesteps and decode noise).
    call_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def uses_guidance(self) -> bool:
        return self.guidance_scale > 1.0


# The distilled checkpoint is trained on exactly these timesteps, without CFG (diffusers' LTX
# documentation for 0.9.7-distilled).
_LTX_DISTILLED_TIMESTEPS = (1000, 993, 987, 981, 975, 909, 725, 0.03)
_LTX_DISTILLED_OPTIONS = MappingProxyType(
    {
        "timesteps": list(_LTX_DISTILLED_TIMESTEPS),
        "decode_timestep": 0.05,
        "decode_noise_scale": 0.025,
        "image_cond_noise_scale": 0.0,
    }
)

RECIPES: Mapping[str, Recipe] = MappingProxyType(
    {
        recipe.model_id: recipe
        for recipe in (
            Recipe(
                model_id="wan2.2-ti2v-5b",
                family="wan",
                hub_repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
                pipeline_class="WanImageToVideoPipeline",
                steps=50,
                guidance_scale=5.0,
                negative_prompt=WAN_NEGATIVE_PROMPT,
                download_gb=34.0,
                parameters_b=5.0,
                vae_float32=True,
            ),
            Recipe(
                model_id="wan2.1-i2v-14b-480p",
                family="wan",
                hub_repo="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
                pipeline_class="WanImageToVideoPipeline",
                steps=40,
                guidance_scale=5.0,
                negative_prompt=WAN_NEGATIVE_PROMPT,
                download_gb=82.0,
                parameters_b=16.4,
                vae_float32=True,
            ),
            Recipe(
                model_id="wan2.1-i2v-14b-720p",
                family="wan",
                hub_repo="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
                pipeline_class="WanImageToVideoPipeline",
                steps=40,
                guidance_scale=5.0,
                negative_prompt=WAN_NEGATIVE_PROMPT,
                download_gb=82.0,
                parameters_b=16.4,
                vae_float32=True,
            ),
            Recipe(
                model_id="wan2.1-flf2v-14b-720p",
                family="wan",
                hub_repo="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
                pipeline_class="WanImageToVideoPipeline",
                steps=40,
                guidance_scale=5.0,
                negative_prompt=WAN_NEGATIVE_PROMPT,
                download_gb=82.0,
                parameters_b=16.4,
                needs_last_image=True,
                vae_float32=True,
            ),
            Recipe(
                model_id="ltx-video-0.9.7-distilled",
                family="ltx",
                hub_repo="Lightricks/LTX-Video-0.9.7-distilled",
                pipeline_class="LTXConditionPipeline",
                steps=len(_LTX_DISTILLED_TIMESTEPS),
                guidance_scale=1.0,
                negative_prompt=LTX_NEGATIVE_PROMPT,
                download_gb=60.0,
                parameters_b=13.0,
                call_options=_LTX_DISTILLED_OPTIONS,
            ),
        )
    }
)

_SPECS: Mapping[str, ModelSpec] = MappingProxyType({spec.id: spec for spec in OPEN_WEIGHT_MODELS})


def recipe_for(model_id: str) -> Recipe | None:
    return RECIPES.get(model_id)


def spec_for(model_id: str) -> ModelSpec | None:
    """The catalog entry of an open-weight model (sizes, fps, frame counts)."""
    return _SPECS.get(model_id)
