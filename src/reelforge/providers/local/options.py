"""Backend switches for the local GPU provider, read once per job from `Settings` (the one source).

Each switch is a `REELFORGE_LOCAL_*` setting (see `Settings` and the README). They are validated
here, when a local job plans, so a typo raises an `InvalidRequest` naming the variable instead of
stopping a server that may only use cloud providers. Every switch is separate so the benchmark can
measure each one on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reelforge.errors import InvalidRequest

if TYPE_CHECKING:
    from reelforge.settings import Settings

OFFLOAD_MODES = ("auto", "none", "model", "sequential")
TILING_MODES = ("auto", "on", "off")
DTYPES = ("auto", "bfloat16", "float16", "float32")
#: FirstBlockCache threshold used by `auto` on non-distilled models (diffusers PR #11180: values
#: below 0.2 keep quality; 0.05 gave LTX 1.5x and Wan 1.6x).
AUTO_CACHE_THRESHOLD = 0.05
#: Frame area from which `auto` VAE tiling switches on (720p-class decodes).
TILING_AREA = 1280 * 704


@dataclass(frozen=True)
class LocalOptions:
    device: str = "auto"
    dtype: str = "auto"
    offload: str = "auto"
    attention: str = "native"
    #: "auto", "off", or a threshold as text ("0.1").
    cache: str = "auto"
    compile: bool = False
    vae_tiling: str = "auto"
    model_paths: dict[str, str] = field(default_factory=dict)
    models_dir: Path | None = None
    #: Frame area cap below the model's own (requests are scaled down, with a note).
    max_pixels: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LocalOptions:
        """The options in effect, validated (each error names its REELFORGE_LOCAL_* variable).

        Without settings, the environment's (`Settings()`): callers outside a server (pull, doctor).
        """
        if settings is None:
            from reelforge.settings import Settings

            settings = Settings()
        opts = cls(
            device=settings.local_device.strip() or "auto",
            dtype=_choice(settings.local_dtype, "REELFORGE_LOCAL_DTYPE", DTYPES),
            offload=settings.local_offload.strip().lower() or "auto",
            attention=settings.local_attention.strip() or "native",
            cache=settings.local_cache.strip().lower() or "auto",
            compile=settings.local_compile,
            vae_tiling=_choice(settings.local_vae_tiling, "REELFORGE_LOCAL_VAE_TILING", TILING_MODES),
            model_paths=_model_paths(settings.local_model_paths),
            models_dir=settings.local_models_dir,
            max_pixels=_positive_int(settings.local_max_pixels, "REELFORGE_LOCAL_MAX_PIXELS"),
        )
        if opts.offload not in OFFLOAD_MODES:
            raise InvalidRequest(
                f"REELFORGE_LOCAL_OFFLOAD must be one of {', '.join(OFFLOAD_MODES)}, got '{opts.offload}'.",
                param="REELFORGE_LOCAL_OFFLOAD",
            )
        opts.cache_threshold(distilled=False)  # validates the text early
        return opts

    def cache_threshold(self, *, distilled: bool) -> float | None:
        """FirstBlockCache threshold for a model, or None for no cache.

        `auto` leaves step-distilled models alone: with 8 steps there is nothing to skip.
        """
        if self.cache == "off":
            return None
        if self.cache == "auto":
            return None if distilled else AUTO_CACHE_THRESHOLD
        try:
            value = float(self.cache)
        except ValueError:
            raise InvalidRequest(
                f"REELFORGE_LOCAL_CACHE must be auto, off or a number such as 0.1, got '{self.cache}'.",
                param="REELFORGE_LOCAL_CACHE",
            ) from None
        return value if value > 0 else None

    def tiling_for(self, width: int, height: int) -> bool:
        if self.vae_tiling == "on":
            return True
        return self.vae_tiling == "auto" and width * height >= TILING_AREA

    def load_key(self) -> tuple[object, ...]:
        """Everything that shapes a loaded pipeline: a change means reloading it."""
        return (self.device, self.dtype, self.offload, self.attention, self.cache, self.compile)


def _choice(raw: str, name: str, allowed: tuple[str, ...]) -> str:
    value = raw.strip().lower() or "auto"
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}, got '{value}'.", param=name)
    return value


def _positive_int(raw: str, name: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise InvalidRequest(f"{name} must be a positive whole number of pixels, got '{raw}'.", param=name)
    return int(raw)


def _model_paths(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"REELFORGE_LOCAL_MODEL_PATHS is not valid JSON ({exc.msg}); expected an object such as "
            '{"ltx-video-0.9.8-distilled": "/models/ltx"}.',
            param="REELFORGE_LOCAL_MODEL_PATHS",
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InvalidRequest(
            "REELFORGE_LOCAL_MODEL_PATHS must map model ids to a directory or hub id (strings).",
            param="REELFORGE_LOCAL_MODEL_PATHS",
        )
    return {str(k): v for k, v in data.items()}
