"""LTX-2 (video with sound) from configs with random weights: see ``architectures.py``.

The full size is the layout of diffusers' LTX-2 classes with their default arguments, which are
LTX-2.0's (19B: 48 blocks of a 4096-wide video stream and a 2048-wide audio stream, Gemma 3 12B
as text encoder, the connectors, both VAEs and the vocoder). LTX-2.3's exact config is not in
diffusers' source; it adds gated attention and prompt modulation to the same block count (22B),
so a step costs a little more than what the benchmark measures here.
"""

from __future__ import annotations

from diffusers import (
    AutoencoderKLLTX2Audio,
    AutoencoderKLLTX2Video,
    FlowMatchEulerDiscreteScheduler,
    LTX2ImageToVideoPipeline,
    LTX2VideoTransformer3DModel,
)
from diffusers.pipelines.ltx2.connectors import LTX2TextConnectors
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3TextConfig,
    SiglipVisionConfig,
)

from vidgen.engines.diffusion.architectures_parts import Size, build_tokenizer, scheduler

__all__ = ["ltx2"]


def ltx2(size: Size) -> LTX2ImageToVideoPipeline:
    if size == "tiny":
        # Gemma's hidden states (layers + embeddings) feed the connectors, which hand the
        # transformer caption_channels-wide tokens: hidden_size = caption_channels and
        # text_proj_in_factor = num_hidden_layers + 1, as 3840 and 48 + 1 in the full model.
        text = Gemma3TextConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
            vocab_size=1103,
            max_position_embeddings=1024,
            sliding_window=64,
        )
        vision = SiglipVisionConfig(
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
        )
        text_encoder = Gemma3ForConditionalGeneration(
            Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4)
        )
        connectors = LTX2TextConnectors(
            caption_channels=16,
            text_proj_in_factor=3,
            video_connector_num_attention_heads=2,
            video_connector_attention_head_dim=8,
            video_connector_num_layers=1,
            video_connector_num_learnable_registers=8,
            audio_connector_num_attention_heads=2,
            audio_connector_attention_head_dim=8,
            audio_connector_num_layers=1,
            audio_connector_num_learnable_registers=8,
            connector_rope_base_seq_len=32,
        )
        # Audio tokens are latent_channels × mel bins / 4 wide (2 × 16 / 4 here, 8 × 64 / 4 =
        # 128 in the full model), and the audio VAE's latent statistics have that width too.
        transformer = LTX2VideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            num_attention_heads=2,  # heads 16 wide (audio: 8), as cuDNN attention needs
            attention_head_dim=16,
            cross_attention_dim=32,
            audio_in_channels=8,
            audio_out_channels=8,
            audio_num_attention_heads=2,
            audio_attention_head_dim=8,
            audio_cross_attention_dim=16,
            num_layers=2,
            caption_channels=16,
        )
        vae = AutoencoderKLLTX2Video(
            latent_channels=8,
            block_out_channels=(4, 8, 16, 32),
            decoder_block_out_channels=(8, 16, 32),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1),
            spatial_compression_ratio=32,
            temporal_compression_ratio=8,
        )
        audio_vae = AutoencoderKLLTX2Audio(
            base_channels=8,
            ch_mult=(1, 2, 4),
            num_res_blocks=1,
            latent_channels=2,
            mel_bins=16,
        )
        # The vocoder's upsampling (6·5·2·2·2 = 240 samples per mel frame: 100 mel frames a
        # second to 24 kHz) is kept; five stages halve the channels, so 32 is the narrowest.
        vocoder = LTX2Vocoder(
            in_channels=32,
            hidden_channels=32,
            upsample_kernel_sizes=[12, 10, 4, 4, 4],
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1]],
        )
    else:
        # Gemma 3 12B (google/gemma-3-12b-it): 48 layers of 3840, SigLIP-so400m vision tower.
        text = Gemma3TextConfig(
            hidden_size=3840,
            intermediate_size=15360,
            num_hidden_layers=48,
            num_attention_heads=16,
            num_key_value_heads=8,
            head_dim=256,
            vocab_size=262208,
            sliding_window=1024,
        )
        vision = SiglipVisionConfig(
            hidden_size=1152,
            intermediate_size=4304,
            num_hidden_layers=27,
            num_attention_heads=16,
            image_size=896,
            patch_size=14,
        )
        text_encoder = Gemma3ForConditionalGeneration(
            Gemma3Config(text_config=text, vision_config=vision)
        )
        connectors = LTX2TextConnectors()
        transformer = LTX2VideoTransformer3DModel()
        # The encoder's patch 4 and its spatial, temporal and two spatiotemporal downsamples:
        # 32× in space, 8× in time (the ratios are not derived from the config's flags).
        vae = AutoencoderKLLTX2Video(spatial_compression_ratio=32, temporal_compression_ratio=8)
        audio_vae = AutoencoderKLLTX2Audio()
        vocoder = LTX2Vocoder()
    return LTX2ImageToVideoPipeline(
        scheduler=scheduler(FlowMatchEulerDiscreteScheduler),
        vae=vae.eval(),
        audio_vae=audio_vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=build_tokenizer(model_max_length=1024),
        connectors=connectors.eval(),
        transformer=transformer.eval(),
        vocoder=vocoder.eval(),
    )
