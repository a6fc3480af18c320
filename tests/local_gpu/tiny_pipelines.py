"""Tiny random-weight LTX and Wan pipelines built entirely in code (no download, no GPU).

The component shapes follow `get_dummy_components` in the diffusers test-suite, except the text
side: instead of fetching `hf-internal-testing/tiny-random-t5`, a Unigram tokenizer is built from
an in-memory vocabulary and a two-layer (UM)T5 encoder from a config. The pipelines are saved with
`save_pretrained` so tests load them back through reelforge's real loading path, either from a
local directory or from a fake Hugging Face cache (the layout `from_pretrained(hub_id)` reads
offline). The benchmark's `--tiny` mode uses the same builders.

Random weights mean the frames are noise: tests assert shapes, frame counts, codecs, progress and
cancel behaviour, never content.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXVideoTransformer3DModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from transformers import T5Config, T5EncoderModel, T5Tokenizer, UMT5Config, UMT5EncoderModel

TEXT_DIM = 32
_WORDS = "a the cat dog runs on beach sunset video of in and with red blue sky sea city night".split()
_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-"

#: A fixed fake commit hash for the fake Hugging Face cache snapshots.
FAKE_REVISION = "0123456789abcdef0123456789abcdef01234567"


def tiny_tokenizer() -> T5Tokenizer:
    """A Unigram T5 tokenizer from an in-memory vocab: pad=0, eos=1, unk=2; any text tokenizes."""
    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    words = [("\u2581" + w, -2.0) for w in _WORDS]
    chars = [(c, -5.0) for c in _CHARS]
    return T5Tokenizer(vocab=specials + [("\u2581", -3.0)] + words + chars, extra_ids=0)


def _text_encoder(vocab_size: int, umt5: bool) -> torch.nn.Module:
    cfg_cls, model_cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = cfg_cls(
        vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0,
    )
    torch.manual_seed(0)
    return model_cls(config).eval()


def build_tiny_ltx() -> LTXConditionPipeline:
    """LTX-Video condition pipeline, 2 transformer blocks (FirstBlockCache needs at least two)."""
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=2, caption_channels=TEXT_DIM,
    )
    torch.manual_seed(0)
    # The LTX 0.9.5+ VAE family that 0.9.8 ships: 32x spatial and 8x temporal compression and
    # timestep-conditioned decoding, so decode_timestep / decode_noise_scale and the 8k+1 rule for
    # conditioning videos take the same code paths as the real model. Decoder channels double per
    # level so each up block's input equals output x upsample factor, as in the real config.
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8, 8),
        down_block_types=("LTXVideo095DownBlock3D",) * 4, decoder_block_out_channels=(8, 16, 32),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, True), decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False, False, False, False),
        downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
        upsample_residual=(True, True, True), upsample_factor=(2, 2, 2), timestep_conditioning=True,
        patch_size=4, patch_size_t=1, encoder_causal=True, decoder_causal=False,
        spatial_compression_ratio=32, temporal_compression_ratio=8,
    )
    return LTXConditionPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=_text_encoder(len(tok), umt5=False), tokenizer=tok,
    )


def _wan_parts(in_channels: int) -> tuple[WanTransformer3DModel, WanTransformer3DModel, AutoencoderKLWan]:
    """Two experts (the Wan 2.2 A14B high-noise / low-noise split) and the VAE."""
    experts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        experts.append(
            WanTransformer3DModel(
                patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
                out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2,
                cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
            )
        )
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    return experts[0], experts[1], vae


def _tiny_wan(pipeline_cls: type, in_channels: int, shift: float, boundary_ratio: float) -> object:
    tok = tiny_tokenizer()
    high, low, vae = _wan_parts(in_channels)
    return pipeline_cls(
        tokenizer=tok, text_encoder=_text_encoder(len(tok), umt5=True), vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=shift), transformer=high, transformer_2=low,
        boundary_ratio=boundary_ratio,
    )


def build_tiny_wan_t2v() -> WanPipeline:
    """Wan 2.2 A14B-shaped text-to-video: two experts switched at boundary_ratio 0.875."""
    return _tiny_wan(WanPipeline, in_channels=16, shift=7.0, boundary_ratio=0.875)


def build_tiny_wan_i2v() -> WanImageToVideoPipeline:
    """Wan 2.2 A14B-shaped image-to-video (latents + mask + image channels = 36), no CLIP encoder."""
    return _tiny_wan(WanImageToVideoPipeline, in_channels=36, shift=5.0, boundary_ratio=0.9)


def build_tiny_wan_ti2v() -> WanPipeline:
    """Wan 2.2 TI2V-5B-shaped: one transformer on 48-channel latents, a 16x residual VAE with a
    2x patch, `expand_timesteps` (image-to-video reuses it through `WanImageToVideoPipeline.from_pipe`)."""
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
        latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        scale_factor_spatial=16, scale_factor_temporal=4, temperal_downsample=[False, True, True],
    )
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=48, out_channels=48,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    )
    return WanPipeline(
        tokenizer=tok, text_encoder=_text_encoder(len(tok), umt5=True), vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0), transformer=transformer, expand_timesteps=True,
    )


BUILDERS = {
    "ltx-video-0.9.8-distilled": build_tiny_ltx,
    "wan2.2-t2v-a14b": build_tiny_wan_t2v,
    "wan2.2-i2v-a14b": build_tiny_wan_i2v,
    "wan2.2-ti2v-5b": build_tiny_wan_ti2v,
}


def save_tiny(model_id: str, dest: Path) -> Path:
    """Build the tiny pipeline for a catalog model id and `save_pretrained` it into `dest`."""
    BUILDERS[model_id]().save_pretrained(dest, safe_serialization=True)
    return dest


def save_into_hf_cache(model_id: str, repo_id: str, cache_dir: Path) -> Path:
    """Save a tiny pipeline where `from_pretrained(repo_id)` finds it offline under `cache_dir`.

    This is the Hugging Face hub cache layout (`models--org--name/snapshots/<rev>` plus
    `refs/main`), so loading by hub id with `HF_HUB_OFFLINE=1` takes the same path as for a
    user who ran `reelforge models pull`.
    """
    root = cache_dir / ("models--" + repo_id.replace("/", "--"))
    save_tiny(model_id, root / "snapshots" / FAKE_REVISION)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(FAKE_REVISION)
    return root
