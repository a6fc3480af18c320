"""Benchmark the local GPU backend: seconds per clip and peak VRAM, plain diffusers vs reelforge.

For each model it runs, in one process and on one resident pipeline:

* `plain`: the bare diffusers call with the same arguments (bf16, SDPA, no cache, no callback,
  no mp4): the baseline;
* `ours`: reelforge's render path (`runner.render_plan`: step callback, cancel checks, auto VAE
  tiling, default FirstBlockCache on non-distilled models, PyAV mp4 write);
* one row per switch, each changed alone from `ours`: attention `_native_math` (SDPA off),
  FirstBlockCache off / 0.1, VAE tiling flipped, fp32 (`--fp32`), regional compile (`--compile`,
  timed after one warm-up call).

Weights: `--weights real` loads the pulled checkpoint through reelforge's loader (offline);
`--weights random` builds every component at full size from the published configurations
transcribed below, with random weights, directly on the device (no network, no download), which
is enough for timing and memory; `auto` (default) uses real weights where they are present.
`--tiny --device cpu` runs the tiny test pipelines in seconds (CI smoke run).

    python benchmarks/local_gpu.py --models ltx-video-0.9.8-distilled wan2.2-t2v-a14b --json out.json
    python benchmarks/local_gpu.py --tiny --device cpu
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "local_gpu")]

import torch  # noqa: E402

from reelforge.providers.local.loading import LoadedPipeline, apply_speedups, load_pipeline, transformers_of  # noqa: E402
from reelforge.providers.local.options import LocalOptions  # noqa: E402
from reelforge.providers.local.plan import Keyframe, RenderPlan  # noqa: E402
from reelforge.providers.local.render_plan import call_arguments, render_plan  # noqa: E402
from reelforge.providers.local.specs import MODELS, ModelSpec  # noqa: E402
from reelforge.providers.local.store import locate  # noqa: E402

# Component configurations of the published diffusers repos (transcribed; parameter counts check
# out: LTX 13.04B, Wan A14B 2 x 14.29B, TI2V 5.00B). Keys are constructor arguments.
T5_XXL = dict(d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24, vocab_size=32128,
              feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, dropout_rate=0.0)
UMT5_XXL = {**T5_XXL, "vocab_size": 256384}
LTX_095_VAE = dict(
    latent_channels=128, block_out_channels=(128, 256, 512, 1024, 2048), down_block_types=("LTXVideo095DownBlock3D",) * 4,
    decoder_block_out_channels=(256, 512, 1024), layers_per_block=(4, 6, 6, 2, 2), decoder_layers_per_block=(5, 5, 5, 5),
    spatio_temporal_scaling=(True, True, True, True), decoder_spatio_temporal_scaling=(True, True, True),
    decoder_inject_noise=(False, False, False, False), downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
    upsample_residual=(True, True, True), upsample_factor=(2, 2, 2), timestep_conditioning=True, patch_size=4, patch_size_t=1,
    encoder_causal=True, decoder_causal=False, spatial_compression_ratio=32, temporal_compression_ratio=8,
)
WAN22_VAE = dict(base_dim=160, decoder_base_dim=256, z_dim=48, is_residual=True, in_channels=12, out_channels=12,
                 patch_size=2, scale_factor_spatial=16, latents_mean=[0.0] * 48, latents_std=[1.0] * 48)
WAN_14B = dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40, text_dim=4096)
WAN_5B = dict(num_attention_heads=24, attention_head_dim=128, ffn_dim=14336, num_layers=30, text_dim=4096,
              in_channels=48, out_channels=48)
#: The clip each model is timed on: the targets of issue 5 (5 s, 768x512 LTX; 480p Wan).
CLIPS = {"ltx-video-0.9.8-distilled": (768, 512, 121, 24), "wan2.2-t2v-a14b": (832, 480, 81, 16),
         "wan2.2-i2v-a14b": (832, 480, 81, 16), "wan2.2-ti2v-5b": (1280, 704, 121, 24)}
TINY_CLIP = (32, 32, 9, 24)


def build_random_full(model_id: str) -> Any:
    """Every component at full size with random weights, created on the current default device."""
    import diffusers
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    from tiny_pipelines import tiny_tokenizer  # no real tokenizer offline; the encoder is full size

    tok = tiny_tokenizer()
    if model_id.startswith("ltx"):
        return diffusers.LTXConditionPipeline(
            transformer=diffusers.LTXVideoTransformer3DModel(num_attention_heads=32, attention_head_dim=128,
                                                             cross_attention_dim=4096, num_layers=48, caption_channels=4096),
            vae=diffusers.AutoencoderKLLTXVideo(**LTX_095_VAE), scheduler=diffusers.FlowMatchEulerDiscreteScheduler(),
            text_encoder=T5EncoderModel(T5Config(**T5_XXL)).eval(), tokenizer=tok)
    encoder = UMT5EncoderModel(UMT5Config(**UMT5_XXL)).eval()
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=5.0)
    if model_id == "wan2.2-ti2v-5b":
        return diffusers.WanPipeline(tokenizer=tok, text_encoder=encoder, scheduler=scheduler, expand_timesteps=True,
                                     vae=diffusers.AutoencoderKLWan(**WAN22_VAE), transformer=diffusers.WanTransformer3DModel(**WAN_5B))
    in_channels, boundary = (36, 0.9) if "i2v" in model_id else (16, 0.875)
    experts = [diffusers.WanTransformer3DModel(**WAN_14B, in_channels=in_channels) for _ in range(2)]
    cls = diffusers.WanImageToVideoPipeline if "i2v" in model_id else diffusers.WanPipeline
    return cls(tokenizer=tok, text_encoder=encoder, vae=diffusers.AutoencoderKLWan(), scheduler=scheduler,
               transformer=experts[0], transformer_2=experts[1], boundary_ratio=boundary)


def get_pipeline(model_id: str, args: argparse.Namespace, options: LocalOptions) -> tuple[LoadedPipeline, str]:
    """The pipeline to time, and where its weights came from."""
    spec = MODELS[model_id]
    base = spec.pipelines.get("t2v") or spec.pipelines["i2v"]
    if args.tiny:
        import tiny_pipelines

        pipe, origin = tiny_pipelines.BUILDERS[model_id]().to(args.device, _dtype(args)), "tiny random"
    elif args.weights == "real" or (args.weights == "auto" and locate(spec, options).present):
        return load_pipeline(spec, base, options), f"real ({locate(spec, options).ref})"
    else:
        with torch.device(args.device), _default_dtype(_dtype(args)):
            pipe = build_random_full(model_id)
        origin = "random, full size"
    pipe.set_progress_bar_config(disable=True)
    if model_id.startswith("wan"):
        pipe.vae.to(torch.float32)  # as the loader does
    return LoadedPipeline(model_id, (), pipe, args.device, "none"), origin


@contextmanager
def _default_dtype(dtype: torch.dtype):  # noqa: ANN202
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _dtype(args: argparse.Namespace) -> torch.dtype:
    return torch.float32 if args.device == "cpu" else torch.bfloat16


def clip_for(model_id: str, args: argparse.Namespace) -> tuple[int, int, int, int]:
    """(width, height, frames, fps): `--clip`, else the tiny clip, else the model's target clip."""
    fps = CLIPS[model_id][3]
    if args.clip:
        width, height, frames = (int(v) for v in args.clip.lower().split("x"))
        return width, height, frames, fps
    return TINY_CLIP if args.tiny else CLIPS[model_id]


def make_plan(model_id: str, args: argparse.Namespace, image: Path) -> RenderPlan:
    spec = MODELS[model_id]
    width, height, frames, fps = clip_for(model_id, args)
    task = "t2v" if "t2v" in spec.pipelines else "i2v"
    return RenderPlan(model_id=model_id, task=task, pipeline=spec.pipeline_for(task), width=width, height=height,
                      fps=fps, frames=frames, prompt="a red fox runs through snow at sunrise, cinematic",
                      negative_prompt=None, seed=0, steps=args.steps or spec.steps, guidance_scale=spec.guidance_scale,
                      keyframes=(Keyframe(image, 0),) if task == "i2v" else ())


def measure(fn: Any, device: str, repeat: int) -> tuple[float, float | None]:
    """Best wall time of `repeat` calls, and peak VRAM in GiB over them (None on CPU)."""
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return best, peak


def reset_speedups(pipe: Any) -> None:
    for transformer in transformers_of(pipe):
        if getattr(transformer, "is_cache_enabled", False):
            transformer.disable_cache()
        transformer.set_attention_backend("native")


def variants(spec: ModelSpec, base: LocalOptions, args: argparse.Namespace) -> list[tuple[str, LocalOptions]]:
    """`ours` and each switch changed alone."""
    width, height, _, _ = clip_for(spec.id, args)
    rows = [("ours (defaults)", base), ("attention _native_math (SDPA off)", replace(base, attention="_native_math"))]
    default_cache = base.cache_threshold(distilled=spec.distilled)
    rows.append(("FirstBlockCache off", replace(base, cache="off")) if default_cache
                else ("FirstBlockCache 0.05", replace(base, cache="0.05")))
    rows.append(("FirstBlockCache 0.1", replace(base, cache="0.1")))
    tiled = base.tiling_for(width, height)
    rows.append((f"VAE tiling {'off' if tiled else 'on'}", replace(base, vae_tiling="off" if tiled else "on")))
    if args.compile:
        rows.append(("compile_repeated_blocks", replace(base, compile=True)))
    return rows


def bench_model(model_id: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    from PIL import Image

    spec = MODELS[model_id]
    # Weight locations and offload come from the user's settings, as for the server; the rest is fixed.
    from reelforge.settings import Settings

    user = LocalOptions.from_settings(Settings())
    base = LocalOptions(device=args.device, dtype="float32" if args.device == "cpu" else "bfloat16",
                        offload=user.offload, model_paths=user.model_paths, models_dir=user.models_dir)
    image = workdir / "first.png"
    Image.new("RGB", (64, 64), (200, 80, 40)).save(image)
    plan = make_plan(model_id, args, image)
    start = time.perf_counter()
    loaded, origin = get_pipeline(model_id, args, base)
    rows = [{"model": model_id, "variant": "load / build", "seconds": round(time.perf_counter() - start, 2),
             "peak_vram_gib": None, "weights": origin}]
    kwargs, _ = call_arguments(spec, plan)
    if plan.keyframes:
        from reelforge.providers.local.conditioning import load_image

        kwargs["image"] = load_image(image, plan.width, plan.height)
    plain = {k: v for k, v in kwargs.items() if k != "generator"}
    pipe = loaded.for_class(plan.pipeline)
    reset_speedups(loaded.pipe)
    run = lambda: pipe(**plain, generator=torch.Generator("cpu").manual_seed(0))  # noqa: E731
    run()  # warm-up: CUDA context, kernels, allocator
    rows.append(_row(model_id, "plain diffusers call", measure(run, args.device, args.repeat), origin))
    for name, options in variants(spec, base, args):
        reset_speedups(loaded.pipe)
        apply_speedups(loaded.pipe, spec, options)
        ours = lambda o=options: render_plan(loaded, spec, plan, o, workdir / "out.mp4", threading.Event(),  # noqa: E731
                                             lambda f, s: None)
        if options.compile:
            ours()  # compile happens on the first call; time the steady state
        rows.append(_row(model_id, name, measure(ours, args.device, args.repeat), origin))
    if args.fp32:
        rows.append(_fp32_row(loaded, spec, plan, base, args, workdir, origin))
    return rows


def _fp32_row(loaded: LoadedPipeline, spec: ModelSpec, plan: RenderPlan, base: LocalOptions,
              args: argparse.Namespace, workdir: Path, origin: str) -> dict[str, Any]:
    """The same clip with every component in fp32 (twice the weights; may not fit)."""
    reset_speedups(loaded.pipe)
    try:
        loaded.pipe.to(torch.float32)
        apply_speedups(loaded.pipe, spec, base)
        timing = measure(lambda: render_plan(loaded, spec, plan, base, workdir / "out.mp4", threading.Event(),
                                             lambda f, s: None), args.device, args.repeat)
        return _row(spec.id, "fp32 instead of bf16", timing, origin)
    except torch.OutOfMemoryError:
        return {"model": spec.id, "variant": "fp32 instead of bf16", "seconds": None, "peak_vram_gib": None,
                "weights": origin, "note": "out of memory"}


def _row(model_id: str, variant: str, timing: tuple[float, float | None], origin: str) -> dict[str, Any]:
    seconds, peak = timing
    return {"model": model_id, "variant": variant, "seconds": round(seconds, 3),
            "peak_vram_gib": None if peak is None else round(peak, 2), "weights": origin}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny random pipelines (seconds, CPU is fine)")
    parser.add_argument("--weights", choices=["auto", "real", "random"], default="auto")
    parser.add_argument("--steps", type=int, default=None, help="override the model card's step count")
    parser.add_argument("--clip", help="WIDTHxHEIGHTxFRAMES instead of the target clip (e.g. 1280x720x81)")
    parser.add_argument("--repeat", type=int, default=1, help="timed calls per row (best is reported)")
    parser.add_argument("--compile", action="store_true", help="also time compile_repeated_blocks")
    parser.add_argument("--fp32", action="store_true", help="also time fp32 (needs twice the memory)")
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a shared CPU)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device_name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"# local GPU benchmark on {device_name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
    print(f"{'model':28} {'variant':36} {'seconds':>9} {'peak GiB':>9}  weights")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for model_id in args.models:
            for row in bench_model(model_id, args, Path(tmp)):
                rows.append(row)
                peak = "-" if row["peak_vram_gib"] is None else f"{row['peak_vram_gib']:.2f}"
                secs = row.get("note") or f"{row['seconds']:.3f}"
                print(f"{row['model']:28} {row['variant']:36} {secs:>9} {peak:>9}  {row['weights']}", flush=True)
            gc.collect()
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    if args.json:
        meta = {"device": device_name, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"), "argv": sys.argv[1:]}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
