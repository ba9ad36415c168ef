"""Pipelines built from configs with random weights: tiny ones for tests, full-size for benchmarks.

Speed is a property of the architecture, not of the weights, and correctness of the engine's
plumbing (conditioning, seeds, frame counts, progress, cancel, save/load) does not need trained
weights either. So every model the engine serves can be built here without the hub:

- ``size="tiny"``: a few thousand parameters per component, the shapes of diffusers' own fast
  tests, so a 9-frame clip renders on a CPU in well under a second;
- ``size="full"``: the published architectures (Wan 2.1 I2V 14B with CLIP ViT-H and UMT5-XXL,
  Wan 2.2 TI2V 5B with its 16× VAE, Wan 2.2 I2V A14B's two experts, LTX-Video 13B with T5-XXL,
  LTX-2 with Gemma 3 12B, HunyuanVideo-1.5 with Qwen2.5-VL 7B), for ``bench/diffusion.py``.

diffusers' own fast tests are not installed, so the tiny configs are derived from each model
class's ``__init__``: the same structure (every component, the VAE's real compression factors,
the channel relations between components) with widths of a few units.

The tokenizer is built locally too: a word-level vocabulary with a ``</s>`` end token, wrapped as
a fast tokenizer, so nothing is fetched. ``save_pretrained`` on the result writes a directory the
engine loads exactly as it loads real weights.

Imports torch, diffusers and transformers: only for tests, benchmarks and the ``gpu`` extra.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXVideoTransformer3DModel,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanTransformer3DModel,
)
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModel,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

from vidgen.engines.diffusion.architectures_parts import Size, build_tokenizer, scheduler
from vidgen.engines.diffusion.models import recipe_for

__all__ = ["Size", "build_pipeline", "build_tokenizer", "scheduler"]


def build_pipeline(
    model_id: str,
    *,
    size: Size = "tiny",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> DiffusionPipeline:
    """A pipeline of ``model_id``'s architecture with random weights (seeded: the same call
    gives the same weights), on ``device`` in ``dtype``."""
    recipe = recipe_for(model_id)
    if recipe is None:
        raise LookupError(f"no architecture for {model_id!r}")
    # Build straight on the target device and in the target dtype: a full-size Wan 14B is 30+ GB
    # of weights in bf16, and creating it on the CPU first would take minutes and as much host
    # memory; created in float32 first, Wan2.2-A14B (34B parameters with its text encoder) or
    # LTX-2 with Gemma 3 12B would need ~140 GB on the GPU before the cast.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        pipe = _build(model_id, recipe.family, recipe.needs_last_image, size, seed, device)
    finally:
        torch.set_default_dtype(previous)
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _build(
    model_id: str,
    family: str,
    flf2v: bool,
    size: Size,
    seed: int,
    device: str | torch.device,
) -> DiffusionPipeline:
    with torch.device(device):
        torch.manual_seed(seed)
        if family == "ltx":
            return _ltx(size)
        if family == "ltx2":
            from vidgen.engines.diffusion.architectures_ltx2 import ltx2

            return ltx2(size)
        if family == "hunyuan":
            from vidgen.engines.diffusion.architectures_hunyuan import hunyuan15_i2v

            return hunyuan15_i2v(size)
        if model_id == "wan2.2-ti2v-5b":
            return _wan_ti2v(size)
        if model_id.startswith("wan2.2-i2v-a14b"):
            return _wan22_a14b(size)
        return _wan_i2v(size, flf2v=flf2v, high_res="720p" in model_id)


# -- Wan -------------------------------------------------------------------------------------

_WAN_TINY_TRANSFORMER: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    # Heads 16 wide: cuDNN attention's kernels need multiples of 8, and CUDA tests should run the
    # backend the engine picks for real models; on a CPU, 2 heads of 16 cost what 2 of 12 did
    # (3 of 8 cost more: the score matrices grow with the head count).
    "num_attention_heads": 2,
    "attention_head_dim": 16,
    "text_dim": 32,
    "freq_dim": 256,
    "ffn_dim": 32,
    "num_layers": 2,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "rope_max_seq_len": 1024,  # positions up to 1024 patches: real frame sizes fit
}
# Wan 2.1 14B and Wan 2.2 5B, as diffusers' conversion script configures them.
_WAN_14B_TRANSFORMER: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 40,
    "attention_head_dim": 128,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 13824,
    "num_layers": 40,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
}
_WAN_5B_TRANSFORMER: dict[str, Any] = {
    **_WAN_14B_TRANSFORMER,
    "num_attention_heads": 24,
    "ffn_dim": 14336,
    "num_layers": 30,
    "in_channels": 48,
    "out_channels": 48,
}


def _text_encoder_wan(size: Size) -> UMT5EncoderModel:
    if size == "tiny":
        config = UMT5Config(
            d_model=32,
            d_ff=37,
            d_kv=8,
            num_heads=4,
            num_layers=5,
            vocab_size=1103,
            relative_attention_num_buckets=8,
        )
    else:  # google/umt5-xxl
        config = UMT5Config(
            d_model=4096,
            d_ff=10240,
            d_kv=64,
            num_heads=64,
            num_layers=24,
            vocab_size=256384,
            feed_forward_proj="gated-gelu",
            relative_attention_num_buckets=32,
        )
    return UMT5EncoderModel(config).eval()


def _unipc(flow_shift: float) -> UniPCMultistepScheduler:
    return scheduler(
        UniPCMultistepScheduler,
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=flow_shift,
    )


def _wan_i2v(size: Size, *, flf2v: bool, high_res: bool) -> WanImageToVideoPipeline:
    if size == "tiny":
        clip = CLIPVisionConfig(
            hidden_size=4,
            projection_dim=4,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            intermediate_size=16,
            patch_size=1,
        )
        processor = CLIPImageProcessor(crop_size=32, size=32)
        image_tokens = 32 * 32 + 1
        transformer_config = {**_WAN_TINY_TRANSFORMER, "image_dim": 4}
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
    else:  # CLIP ViT-H/14 (open_clip laion2b), the Wan 2.1 VAE
        clip = CLIPVisionConfig(
            hidden_size=1280,
            intermediate_size=5120,
            num_hidden_layers=32,
            num_attention_heads=16,
            image_size=224,
            patch_size=14,
            projection_dim=1024,
            hidden_act="gelu",
        )
        processor = CLIPImageProcessor(crop_size=224, size=224)
        image_tokens = (224 // 14) ** 2 + 1
        transformer_config = {
            **_WAN_14B_TRANSFORMER,
            "image_dim": 1280,
            "added_kv_proj_dim": 5120,
        }
        vae = AutoencoderKLWan()
    transformer_config.update(in_channels=36, out_channels=16)
    if flf2v:
        # The first and the last frame's CLIP tokens, each with a learned position.
        transformer_config.update(pos_embed_seq_len=2 * image_tokens)
        if size == "full":
            transformer_config.update(rope_max_seq_len=1024)
    return WanImageToVideoPipeline(
        tokenizer=build_tokenizer(),
        text_encoder=_text_encoder_wan(size),
        vae=vae.eval(),
        scheduler=_unipc(16.0 if flf2v else 5.0 if high_res else 3.0),
        image_processor=processor,
        image_encoder=CLIPVisionModel(clip).eval(),
        transformer=WanTransformer3DModel(**transformer_config).eval(),
    )


def _wan22_a14b(size: Size) -> WanImageToVideoPipeline:
    """Wan2.2-I2V-A14B: a high-noise and a low-noise expert of the Wan 2.1 14B layout, without
    CLIP image tokens (the image enters only through the latent channels), the Wan 2.1 VAE, and
    the expert switch at ``boundary_ratio=0.9`` (Wan's i2v_A14B config: boundary 0.900,
    sample_shift 5.0)."""
    if size == "tiny":
        config: dict[str, Any] = dict(_WAN_TINY_TRANSFORMER)
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
    else:
        config = dict(_WAN_14B_TRANSFORMER)
        vae = AutoencoderKLWan()
    config.update(in_channels=36, out_channels=16)
    return WanImageToVideoPipeline(
        tokenizer=build_tokenizer(),
        text_encoder=_text_encoder_wan(size),
        vae=vae.eval(),
        scheduler=_unipc(5.0),
        transformer=WanTransformer3DModel(**config).eval(),
        transformer_2=WanTransformer3DModel(**config).eval(),
        boundary_ratio=0.9,
    )


def _wan_ti2v(size: Size) -> WanImageToVideoPipeline:
    if size == "tiny":
        transformer_config = {**_WAN_TINY_TRANSFORMER, "in_channels": 48, "out_channels": 48}
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        )
    else:
        transformer_config = dict(_WAN_5B_TRANSFORMER)
        # The Wan 2.2 VAE; its per-channel latent statistics do not change its cost.
        vae = AutoencoderKLWan(
            base_dim=160,
            decoder_base_dim=256,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
        )
    return WanImageToVideoPipeline(
        tokenizer=build_tokenizer(),
        text_encoder=_text_encoder_wan(size),
        vae=vae.eval(),
        scheduler=_unipc(5.0),
        transformer=WanTransformer3DModel(**transformer_config).eval(),
        expand_timesteps=True,
    )


# -- LTX -------------------------------------------------------------------------------------


def _ltx(size: Size) -> LTXConditionPipeline:
    if size == "tiny":
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=1,
            caption_channels=32,
        )
        vae = AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            # LTX's own compression (4×4 patches, then three 2× steps in space and time:
            # 32× spatial, 8× temporal), so even full frame sizes are a few hundred tokens.
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False),
            upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=True,
            patch_size=4,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        text_encoder = T5EncoderModel(
            T5Config(
                d_model=32,
                d_ff=37,
                d_kv=8,
                num_heads=4,
                num_layers=5,
                vocab_size=1103,
                relative_attention_num_buckets=8,
            )
        )
    else:
        # LTX-Video 13B (0.9.7): 48 blocks of 32 heads × 128; T5-XXL text encoder; the VAE
        # with the decoder timestep conditioning that 0.9.1 and later use.
        transformer = LTXVideoTransformer3DModel(
            in_channels=128,
            out_channels=128,
            num_attention_heads=32,
            attention_head_dim=128,
            cross_attention_dim=4096,
            num_layers=48,
            caption_channels=4096,
            qk_norm="rms_norm_across_heads",
        )
        vae = AutoencoderKLLTXVideo(timestep_conditioning=True)
        text_encoder = T5EncoderModel(
            T5Config(
                d_model=4096,
                d_ff=10240,
                d_kv=64,
                num_heads=64,
                num_layers=24,
                vocab_size=32128,
                feed_forward_proj="gated-gelu",
            )
        )
    return LTXConditionPipeline(
        scheduler=scheduler(FlowMatchEulerDiscreteScheduler),
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=build_tokenizer(model_max_length=256),
        transformer=transformer.eval(),
    )
