"""The local model registry as data, and the pure-python rules that snap a request to it.

Every open video model has hard shape rules that its diffusers pipeline enforces or silently
rounds: LTX-Video needs 8k+1 frames and sides divisible by 32, Wan needs 4k+1 frames and sides
divisible by 16 (32 for TI2V-5B, whose VAE compresses 16x with a 2x patch). Snapping here,
before anything loads, means the user is told exactly what will be rendered ("5 s -> 121 frames
at 24 fps = 5.04 s") instead of discovering it in the output. Nothing in this module imports
torch; the tests cover it without the `[local]` extra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Family = Literal["ltx", "wan"]
Task = Literal["t2v", "i2v", "keyframes", "extend"]

#: LTX-Video 0.9.8 distilled: the published 8-step schedule (guidance off).
LTX_DISTILLED_TIMESTEPS = (1000, 993, 987, 981, 975, 909, 725, 0.03)


@dataclass(frozen=True)
class ModelSpec:
    """What the backend needs to know to load and drive one open model."""

    id: str
    family: Family
    #: Hugging Face repo id in diffusers format (the `reelforge models pull` source).
    hf_repo: str
    #: Pipeline class per task, by name (resolved inside the backend, where diffusers is imported).
    pipelines: dict[Task, str]
    frames_multiple: int  # frames = k * multiple + 1
    dims_multiple: int
    fps_choices: tuple[int, ...]
    default_size: tuple[int, int]  # (width, height)
    min_frames: int
    max_frames: int
    #: Largest width*height the model was trained for; bigger requests are scaled down.
    max_area: int
    steps: int
    guidance_scale: float
    #: Explicit scheduler timesteps (the distilled LTX schedule), else None.
    timesteps: tuple[float, ...] | None = None
    #: True for step-distilled checkpoints: step caches (FirstBlockCache) only hurt them.
    distilled: bool = False
    #: Approximate peak VRAM in GiB for a default clip in bf16 with no offload.
    vram_gib: float = 24.0
    #: Peak VRAM in GiB with model CPU offload (the fallback when the full model does not fit).
    vram_offload_gib: float = 12.0
    #: A smaller model to suggest when this one does not fit.
    smaller: str | None = None
    #: Pipeline call arguments fixed by the model card (decode noise, shift...).
    call_defaults: dict[str, object] = field(default_factory=dict)

    def pipeline_for(self, task: Task) -> str:
        name = self.pipelines.get(task)
        if name is None:
            raise KeyError(task)
        return name


#: What the two Wan 2.2 A14B checkpoints (text and image to video) share: two 14B experts,
#: 16 fps, 4k+1 frames, sides divisible by 16, 40 steps.
_WAN_A14B: dict[str, Any] = dict(
    family="wan", frames_multiple=4, dims_multiple=16, fps_choices=(16,), default_size=(832, 480), min_frames=5,
    max_frames=121, max_area=1280 * 720, steps=40, vram_gib=72.0, vram_offload_gib=42.0, smaller="wan2.2-ti2v-5b",
)

MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="ltx-video-0.9.8-distilled",
            family="ltx",
            hf_repo="Lightricks/LTX-Video-0.9.8-13B-distilled",
            pipelines={task: "LTXConditionPipeline" for task in ("t2v", "i2v", "keyframes", "extend")},
            frames_multiple=8,
            dims_multiple=32,
            fps_choices=(24, 25, 30),
            default_size=(768, 512),
            min_frames=9,
            max_frames=257,
            max_area=1280 * 736,
            steps=len(LTX_DISTILLED_TIMESTEPS),
            guidance_scale=1.0,
            timesteps=LTX_DISTILLED_TIMESTEPS,
            distilled=True,
            vram_gib=44.0,  # 19B parameters in bf16 (13B DiT, T5-XXL, VAE) = 38 GB + activations
            vram_offload_gib=16.0,
            call_defaults={"decode_timestep": 0.05, "decode_noise_scale": 0.025, "image_cond_noise_scale": 0.0},
        ),
        ModelSpec(
            id="wan2.2-t2v-a14b",
            hf_repo="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
            pipelines={"t2v": "WanPipeline"},
            guidance_scale=4.0,
            call_defaults={"guidance_scale_2": 3.0},  # the low-noise expert's scale (model card)
            **_WAN_A14B,
        ),
        ModelSpec(
            id="wan2.2-i2v-a14b",
            hf_repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
            pipelines={"i2v": "WanImageToVideoPipeline", "keyframes": "WanImageToVideoPipeline"},
            guidance_scale=3.5,
            **_WAN_A14B,
        ),
        ModelSpec(
            id="wan2.2-ti2v-5b",
            family="wan",
            hf_repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            pipelines={"t2v": "WanPipeline", "i2v": "WanImageToVideoPipeline"},
            frames_multiple=4,
            dims_multiple=32,
            fps_choices=(24,),
            default_size=(1280, 704),
            min_frames=5,
            max_frames=121,
            max_area=1280 * 704,
            steps=50,
            guidance_scale=5.0,
            vram_gib=32.0,
            vram_offload_gib=23.0,
        ),
    )
}


def get_spec(model_id: str) -> ModelSpec:
    """The spec for a catalog model id; KeyError names the known ids."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise KeyError(f"unknown local model '{model_id}'; known: {', '.join(sorted(MODELS))}") from None


def snap_frames(seconds: float, fps: int, spec: ModelSpec) -> int:
    """Nearest valid frame count (k*multiple + 1) for a duration, within the model's range."""
    m = spec.frames_multiple
    k = max(0, round((seconds * fps - 1) / m))
    frames = k * m + 1
    return min(max(frames, spec.min_frames), spec.max_frames)


def snap_fps(fps: int, spec: ModelSpec) -> int:
    """The model's supported frame rate closest to the one asked for."""
    return min(spec.fps_choices, key=lambda c: (abs(c - fps), c))


def snap_size(width: int, height: int, spec: ModelSpec, max_area: int | None = None) -> tuple[int, int]:
    """Sides on the model's multiple, area capped, choosing the grid point closest in aspect ratio.

    The cap is the model's training size, or `max_area` when smaller (a user limit for small GPUs).
    Rounding each side on its own can turn 16:9 into 3:1 at small sizes, so the four neighbouring
    grid points are compared by aspect ratio (then by area).
    """
    m = spec.dims_multiple
    cap = max(m * m, min(spec.max_area, max_area or spec.max_area))
    scale = min(1.0, math.sqrt(cap / max(1, width * height)))
    w, h = width * scale / m, height * scale / m
    candidates = {
        (max(1, a) * m, max(1, b) * m) for a in (math.floor(w), math.ceil(w)) for b in (math.floor(h), math.ceil(h))
    }
    fitting = [c for c in candidates if c[0] * c[1] <= cap] or [(m, m)]
    target = width / max(1, height)
    return min(fitting, key=lambda c: (round(abs(math.log(c[0] / c[1] / target)), 6), -c[0] * c[1]))


def continuation_frames(seconds: float, fps: int, spec: ModelSpec) -> int:
    """New frames for an extension: a multiple of the latent stride, so prefix + new stays k*m+1."""
    m = spec.frames_multiple
    return max(m, round(seconds * fps / m) * m)


@dataclass(frozen=True)
class SnapResult:
    width: int
    height: int
    fps: int
    frames: int
    notes: tuple[str, ...]


def snap_request(
    width: int, height: int, fps: int, seconds: float, spec: ModelSpec, max_area: int | None = None
) -> SnapResult:
    """Snap size, fps and duration together, with one human-readable note per change."""
    notes: list[str] = []
    new_fps = snap_fps(fps, spec)
    if new_fps != fps:
        notes.append(f"fps {fps} -> {new_fps} ({spec.id} renders at {', '.join(map(str, spec.fps_choices))} fps)")
    w, h = snap_size(width, height, spec, max_area)
    if (w, h) != (width, height):
        cap = min(spec.max_area, max_area or spec.max_area)
        notes.append(
            f"size {width}x{height} -> {w}x{h} ({spec.id} needs sides divisible by {spec.dims_multiple}"
            f"; at most {cap} pixels here)"
        )
    frames = snap_frames(seconds, new_fps, spec)
    if abs(frames / new_fps - seconds) > 1e-6:
        notes.append(
            f"duration {seconds:g} s -> {frames} frames at {new_fps} fps = {frames / new_fps:.2f} s "
            f"({spec.id} needs {spec.frames_multiple}k+1 frames, {spec.min_frames}-{spec.max_frames})"
        )
    return SnapResult(w, h, new_fps, frames, tuple(notes))
