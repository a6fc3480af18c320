"""Load one diffusers pipeline for a local model: offline, in the right dtype, placed to fit.

Imported only inside the GPU worker thread (it imports torch and diffusers at module level).

Order of operations, each a separate switch so the benchmark can measure it alone:
resolve the weights (local directory or hub id, `local_files_only=True`), check free VRAM and
pick a placement (all on the GPU, model CPU offload, sequential offload), `from_pretrained` in
bf16 (the Wan VAE goes back to fp32 for decode quality, as its model card advises), set the
attention backend (`native` = PyTorch SDPA), attach FirstBlockCache on non-distilled models, and
optionally `compile_repeated_blocks`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import diffusers
import torch
import transformers

from reelforge.errors import LocalBackendUnavailable
from reelforge.providers.local.options import LocalOptions
from reelforge.providers.local.specs import ModelSpec
from reelforge.providers.local.store import hf_hub_cache, locate

log = logging.getLogger(__name__)

# Loading bars and info chatter go to stderr, harmless on stdio but noise in the server log.
diffusers.utils.logging.set_verbosity_error()
diffusers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@dataclass
class LoadedPipeline:
    """The resident pipeline and what it was loaded with (a different key means reload)."""

    model_id: str
    key: tuple[object, ...]
    pipe: Any
    device: str
    placement: str
    #: Pipelines of other classes sharing the same components (no reload), by class name.
    views: dict[str, Any] = field(default_factory=dict)

    def for_class(self, name: str) -> Any:
        """This checkpoint as pipeline class `name` (e.g. Wan TI2V-5B text vs image to video)."""
        if type(self.pipe).__name__ == name:
            return self.pipe
        if name not in self.views:
            self.views[name] = getattr(diffusers, name).from_pipe(self.pipe)
            self.views[name].set_progress_bar_config(disable=True)
        return self.views[name]


def resolve_device(options: LocalOptions) -> str:
    if options.device != "auto":
        return options.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(options: LocalOptions, device: str) -> torch.dtype:
    if options.dtype != "auto":
        return _DTYPES[options.dtype]
    # bf16 halves memory and uses the tensor cores on GPUs; on CPU it is slower than fp32.
    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def choose_placement(spec: ModelSpec, options: LocalOptions, device: str) -> str:
    """Pick none / model / sequential offload from free VRAM, or refuse with a smaller suggestion."""
    if not device.startswith("cuda"):
        return "none"
    free_gib = torch.cuda.mem_get_info(torch.device(device))[0] / 2**30
    mode = options.offload
    if mode == "sequential":
        return mode  # streams layer by layer: fits almost anywhere, very slow
    if mode in ("auto", "none") and free_gib >= spec.vram_gib:
        return "none"
    if mode in ("auto", "model") and free_gib >= spec.vram_offload_gib:
        return "model"
    need = spec.vram_gib if mode == "none" else spec.vram_offload_gib
    smaller = f" Try the smaller model '{spec.smaller}'," if spec.smaller else " Try"
    raise LocalBackendUnavailable(
        f"{spec.id} needs about {need:.0f} GiB of free GPU memory "
        f"({spec.vram_gib:.0f} GiB fully on the GPU, {spec.vram_offload_gib:.0f} GiB with model offload); "
        f"{torch.cuda.get_device_name(torch.device(device))} has {free_gib:.1f} GiB free.",
        hint=f"{smaller} set REELFORGE_LOCAL_OFFLOAD=sequential (slow), or close other programs using the GPU.",
    )


def load_pipeline(spec: ModelSpec, class_name: str, options: LocalOptions) -> LoadedPipeline:
    """from_pretrained offline, placed on the device, with the speed switches applied."""
    device = resolve_device(options)
    placement = choose_placement(spec, options, device)
    dtype = resolve_dtype(options, device)
    source = locate(spec, options)
    log.info("loading %s (%s) from %s, %s, placement=%s", spec.id, class_name, source.ref, dtype, placement)
    try:
        # cache_dir is passed explicitly so the lookup here and in `store.locate` always agree,
        # even when HF_HUB_CACHE changed after huggingface_hub was imported.
        pipe = getattr(diffusers, class_name).from_pretrained(
            source.ref, dtype=dtype, local_files_only=True, cache_dir=str(hf_hub_cache())
        )
    except (OSError, ValueError) as exc:
        log.info("from_pretrained(%s) failed: %s", source.ref, exc.__class__.__name__)
        raise LocalBackendUnavailable(
            f"The weights of {spec.id} are not on this machine (looked for '{source.ref}').",
            hint=f"Run `reelforge models pull {spec.id}` once (it downloads {spec.hf_repo}), "
            "or point REELFORGE_LOCAL_MODEL_PATHS at a diffusers-format directory.",
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    if spec.family == "wan":
        wan_prompt_cleaning_fallback()
        if dtype != torch.float32:
            pipe.vae.to(torch.float32)  # the Wan VAE decodes visibly worse in bf16
    _place(pipe, placement, device)
    apply_speedups(pipe, spec, options)
    return LoadedPipeline(spec.id, (spec.id, class_name, options.load_key()), pipe, device, placement)


def wan_prompt_cleaning_fallback() -> None:
    """Let Wan image-to-video run without the optional `ftfy` package.

    diffusers 0.42.1's `WanImageToVideoPipeline` calls `ftfy.fix_text` without checking that ftfy
    is installed (its text-to-video pipeline checks, and then leaves the text unchanged), so without
    ftfy every image-to-video call dies with a NameError. Do what the text-to-video pipeline does.
    """
    try:
        import ftfy  # noqa: F401
    except ImportError:
        from diffusers.pipelines.wan import pipeline_wan_i2v

        if not hasattr(pipeline_wan_i2v, "ftfy"):
            log.info("ftfy is not installed: Wan prompts are used without mojibake repair")
            pipeline_wan_i2v.ftfy = SimpleNamespace(fix_text=lambda text: text)


def _place(pipe: Any, placement: str, device: str) -> None:
    if placement == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif placement == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


def transformers_of(pipe: Any) -> list[Any]:
    """The denoisers: one, or two for the Wan 2.2 A14B high-noise / low-noise experts."""
    return [t for t in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None)) if t is not None]


def apply_speedups(pipe: Any, spec: ModelSpec, options: LocalOptions) -> None:
    """Attention backend, FirstBlockCache (non-distilled only by default), regional compile."""
    threshold = options.cache_threshold(distilled=spec.distilled)
    for transformer in transformers_of(pipe):
        if options.attention != "native":
            try:
                transformer.set_attention_backend(options.attention)
            except (ValueError, RuntimeError, ImportError) as exc:
                raise LocalBackendUnavailable(
                    f"Attention backend '{options.attention}' is not usable here ({exc.__class__.__name__}).",
                    hint="Unset REELFORGE_LOCAL_ATTENTION to use PyTorch SDPA ('native').",
                ) from exc
        if threshold is not None:
            from diffusers.hooks import FirstBlockCacheConfig

            transformer.enable_cache(FirstBlockCacheConfig(threshold=threshold))
        if options.compile:
            # FirstBlockCache decides per step whether to skip the remaining blocks, outside the
            # graph (torch.compiler.disable): with it attached, fullgraph=True fails at the first call.
            transformer.compile_repeated_blocks(fullgraph=threshold is None)


def set_vae_tiling(pipe: Any, on: bool) -> None:
    """VAE tiling costs a little speed and saves a lot of memory on 720p-class decodes."""
    vae = getattr(pipe, "vae", None)
    if vae is None or not hasattr(vae, "enable_tiling"):
        return
    vae.enable_tiling() if on else vae.disable_tiling()
