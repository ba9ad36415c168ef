"""HunyuanVideo-1.5 image to video from configs with random weights: see ``architectures.py``.

Full size: the transformer and VAE classes' defaults (8.3B: 54 blocks of 16 × 128 heads, the 16×
spatial, 4× temporal VAE with 32 latent channels), Qwen2.5-VL 7B's language model as the text
encoder, ByT5-small for quoted glyph text, SigLIP so400m/14 at 384 px (729 image tokens), CFG
6.0 through the pipeline's guider, flow shift 5.0.
"""

from __future__ import annotations

from diffusers import (
    AutoencoderKLHunyuanVideo15,
    ClassifierFreeGuidance,
    FlowMatchEulerDiscreteScheduler,
    HunyuanVideo15ImageToVideoPipeline,
    HunyuanVideo15Transformer3DModel,
)
from transformers import (
    ByT5Tokenizer,
    Qwen2_5_VLTextConfig,
    Qwen2_5_VLTextModel,
    SiglipImageProcessor,
    SiglipVisionConfig,
    SiglipVisionModel,
    T5Config,
    T5EncoderModel,
)

from vidgen.engines.diffusion.architectures_parts import Size, build_tokenizer, scheduler

__all__ = ["hunyuan15_i2v"]

#: The pipeline formats the prompt with the tokenizer's chat template (a system message, then
#: the prompt); the word-level test tokenizer gets a plain one.
_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}assistant {% endif %}"
)


def hunyuan15_i2v(size: Size) -> HunyuanVideo15ImageToVideoPipeline:
    if size == "tiny":
        text_config = Qwen2_5_VLTextConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=1,
            vocab_size=1103,
            max_position_embeddings=2048,
            rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]},
        )
        glyph = T5Config(
            d_model=8,
            d_ff=16,
            d_kv=4,
            num_heads=2,
            num_layers=1,
            vocab_size=384,
            relative_attention_num_buckets=8,
        )
        vision = SiglipVisionConfig(
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
        )
        # in_channels = 2 × latent channels + 1: noise, the first frame's latents, its mask.
        # target_size=64 makes the size buckets 64² pixels (64×64 for 1:1) instead of 640².
        transformer = HunyuanVideo15Transformer3DModel(
            in_channels=9,
            out_channels=4,
            num_attention_heads=2,  # heads 16 wide, as cuDNN attention needs
            attention_head_dim=16,
            num_layers=2,
            num_refiner_layers=1,
            text_embed_dim=16,
            text_embed_2_dim=8,
            image_embed_dim=8,
            rope_axes_dim=(4, 6, 6),  # time, height, width: together the head's width
            target_size=64,
        )
        vae = AutoencoderKLHunyuanVideo15(
            latent_channels=4, block_out_channels=(4, 4, 8, 8, 8), layers_per_block=1
        )
        processor = SiglipImageProcessor(size={"height": 28, "width": 28})
    else:
        text_config = Qwen2_5_VLTextConfig(
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            vocab_size=152064,
            max_position_embeddings=128000,
            rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]},
        )
        glyph = T5Config(  # google/byt5-small's encoder
            d_model=1472,
            d_ff=3584,
            d_kv=64,
            num_heads=6,
            num_layers=12,
            vocab_size=384,
            feed_forward_proj="gated-gelu",
        )
        vision = SiglipVisionConfig(
            hidden_size=1152,
            intermediate_size=4304,
            num_hidden_layers=27,
            num_attention_heads=16,
            image_size=384,
            patch_size=14,
        )
        transformer = HunyuanVideo15Transformer3DModel()
        vae = AutoencoderKLHunyuanVideo15()
        processor = SiglipImageProcessor(size={"height": 384, "width": 384})
    tokenizer = build_tokenizer(model_max_length=2048)
    tokenizer.chat_template = _CHAT_TEMPLATE
    return HunyuanVideo15ImageToVideoPipeline(
        text_encoder=Qwen2_5_VLTextModel(text_config).eval(),
        tokenizer=tokenizer,
        transformer=transformer.eval(),
        vae=vae.eval(),
        scheduler=scheduler(FlowMatchEulerDiscreteScheduler, shift=5.0),
        text_encoder_2=T5EncoderModel(glyph).eval(),
        tokenizer_2=ByT5Tokenizer(),
        guider=ClassifierFreeGuidance(guidance_scale=6.0),
        image_encoder=SiglipVisionModel(vision).eval(),
        feature_extractor=processor,
    )
