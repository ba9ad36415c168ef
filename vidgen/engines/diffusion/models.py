"""How the diffusers engine runs each open-weight model: one recipe per catalog id.

The catalog entry (``vidgen/core/catalog_data/open_weight.toml``) says what a model produces; the recipe says
where its weights come from and how to call its pipeline: the pipeline class, steps, guidance,
the negative prompt, and the family's quirks. Pure data: importing this module imports no
torch, so the registry, the CLI and start-up checks work without the ``gpu`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from vidgen.core.catalog import OPEN_WEIGHT_MODELS, ModelSpec

__all__ = ["RECIPES", "Recipe", "recipe_for", "spec_for"]

#: How a family's pipeline is called and its output decoded (``families.py``): Wan 2.1/2.2
#: (one transformer, or two experts switched at the pipeline's ``boundary_ratio``), LTX-Video,
#: LTX-2 (video and sound), HunyuanVideo-1.5.
Family = Literal["wan", "ltx", "ltx2", "hunyuan"]

#: Wan's own default negative prompt (its shared sampling config), kept in the language the
#: model was trained with: it names what the sampler should steer away from (oversaturation,
#: static frames, subtitles, extra fingers, …).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，"
    "低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，"
    "毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"
#: HunyuanVideo-1.5's pipeline encodes an empty negative prompt when none is given (its
#: ``encode_prompt``), which is what its authors sample with.
HUNYUAN_NEGATIVE_PROMPT = ""


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
    # The pipeline for a prompt without an image, built from the loaded one's components
    # (``from_pipe``: no second copy of the weights). None: the model needs a first image.
    text_pipeline_class: str | None = None
    # The model makes sound with the picture: the MP4 gets an AAC track.
    audio: bool = False

    @property
    def uses_guidance(self) -> bool:
        return self.guidance_scale > 1.0

    @property
    def needs_image(self) -> bool:
        return self.text_pipeline_class is None


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

# LTX-2's distilled checkpoints are trained on these sigmas, without CFG, STG or modality
# guidance: diffusers' ``pipelines/ltx2/utils.py`` (DISTILLED_SIGMA_VALUES, from Lightricks'
# ltx-pipelines constants) and the distilled example in ``pipeline_ltx2_hdr_lora.py``
# (``num_inference_steps=8``, ``sigmas=DISTILLED_SIGMA_VALUES``, ``guidance_scale=1.0``). The
# pipeline's own defaults switch on STG (1.0) and modality guidance (3.0) for the full model,
# which would cost two more transformer passes per step: they are turned off here.
_LTX2_DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875)
_LTX2_DISTILLED_OPTIONS = MappingProxyType(
    {
        "sigmas": list(_LTX2_DISTILLED_SIGMAS),
        "audio_guidance_scale": 1.0,
        "stg_scale": 0.0,
        "audio_stg_scale": 0.0,
        "modality_scale": 1.0,
        "audio_modality_scale": 1.0,
        "guidance_rescale": 0.0,
        "audio_guidance_rescale": 0.0,
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
            # Wan's own sampling config for I2V-A14B (wan/configs/wan_i2v_A14B.py in the
            # Wan2.2 repository): 40 steps, guidance 3.5 for both experts, boundary 0.900,
            # shift 5.0; the Diffusers checkpoint carries the boundary (``boundary_ratio``) and
            # the shift (its scheduler config) itself. diffusers' pipeline uses
            # ``guidance_scale`` for the low-noise expert too when ``guidance_scale_2`` is None.
            Recipe(
                model_id="wan2.2-i2v-a14b-480p",
                family="wan",
                hub_repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
                pipeline_class="WanImageToVideoPipeline",
                steps=40,
                guidance_scale=3.5,
                negative_prompt=WAN_NEGATIVE_PROMPT,
                download_gb=125.0,
                parameters_b=28.6,  # two 14.3B experts; one runs at each step
                vae_float32=True,
            ),
            Recipe(
                model_id="wan2.2-i2v-a14b-720p",
                family="wan",
                hub_repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
                pipeline_class="WanImageToVideoPipeline",
                steps=40,
                guidance_scale=3.5,
                negative_prompt=WAN_NEGATIVE_PROMPT,
                download_gb=125.0,
                parameters_b=28.6,
                vae_float32=True,
            ),
            # The repository diffusers names for the distilled LTX-2.3 (pipeline_ltx2_hdr_lora.py
            # example); 8 distilled sigmas, no guidance of any kind (see above).
            Recipe(
                model_id="ltx-2.3-distilled",
                family="ltx2",
                hub_repo="diffusers/LTX-2.3-Distilled-Diffusers",
                pipeline_class="LTX2ImageToVideoPipeline",
                text_pipeline_class="LTX2Pipeline",
                steps=len(_LTX2_DISTILLED_SIGMAS),
                guidance_scale=1.0,
                negative_prompt=LTX_NEGATIVE_PROMPT,
                download_gb=75.0,
                parameters_b=22.0,
                call_options=_LTX2_DISTILLED_OPTIONS,
                audio=True,
            ),
            # The pipeline's defaults and docstring (pipeline_hunyuan_video1_5_image2video.py):
            # hunyuanvideo-community/HunyuanVideo-1.5-480p_i2v, 50 steps, 121 frames. Its CFG scale
            # lives in the checkpoint's ``guider`` component (6.0 in Tencent's 480p I2V config),
            # not in the call.
            Recipe(
                model_id="hunyuanvideo-1.5-i2v-480p",
                family="hunyuan",
                hub_repo="hunyuanvideo-community/HunyuanVideo-1.5-480p_i2v",
                pipeline_class="HunyuanVideo15ImageToVideoPipeline",
                steps=50,
                guidance_scale=6.0,
                negative_prompt=HUNYUAN_NEGATIVE_PROMPT,
                download_gb=35.0,
                parameters_b=8.3,
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
