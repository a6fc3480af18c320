"""Run one `RenderPlan` on a loaded pipeline, inside the GPU worker thread (imports torch).

Progress comes from `callback_on_step_end`, which diffusers calls once per scheduler step (also
with CFG and with the two Wan 2.2 experts). The same callback is the cancel point: raising there
stops the run within one step and skips the VAE decode, where `pipe._interrupt` would still
decode. Stages without a callback (prompt encoding, VAE decode, mp4 write) are reported around it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reelforge.errors import Canceled, InvalidRequest
from reelforge.providers.local.export import export_mp4
from reelforge.providers.local.conditioning import first_video_frame, load_image, tail_frames
from reelforge.providers.local.loading import LoadedPipeline, set_vae_tiling
from reelforge.providers.local.options import LocalOptions
from reelforge.providers.local.plan import Keyframe, RenderPlan
from reelforge.providers.local.specs import ModelSpec

log = logging.getLogger(__name__)

#: report(fraction 0..1, stage): called from the worker thread.
Report = Callable[[float, str], None]

# Share of the progress bar per stage: denoising dominates every local render.
DENOISE_START, DENOISE_END, DECODE_AT, WRITE_AT = 0.08, 0.9, 0.92, 0.97
#: Most source frames an extension conditions on (about one second at 24 fps).
MAX_PREFIX_FRAMES = 25


def render_plan(
    loaded: LoadedPipeline, spec: ModelSpec, plan: RenderPlan, options: LocalOptions,
    dest: Path, cancel: threading.Event, report: Report,
) -> None:
    """Generate the frames for `plan` and write them to `dest` as mp4."""
    pipe = loaded.for_class(plan.pipeline)
    kwargs, prefix = call_arguments(spec, plan)
    kwargs["callback_on_step_end"] = _step_callback(cancel, report, kwargs)
    if cancel.is_set():
        raise Canceled("Canceled before the model started.")
    set_vae_tiling(pipe, options.tiling_for(plan.width, plan.height))
    report(DENOISE_START - 0.03, "encoding prompt")
    with torch.inference_mode():
        output = pipe(**kwargs)
    if cancel.is_set():  # cancelled during the VAE decode, which has no callback: write nothing
        raise Canceled("Canceled while decoding.")
    frames = np.asarray(output.frames[0])
    del output
    frames = frames[prefix:]
    if plan.drop_last:
        frames = frames[:-1]
    report(WRITE_AT, "writing mp4")
    export_mp4(frames, dest, plan.fps)


def _step_callback(cancel: threading.Event, report: Report, kwargs: dict[str, Any]):  # noqa: ANN202
    total = len(kwargs["timesteps"]) if kwargs.get("timesteps") else kwargs["num_inference_steps"]

    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        if cancel.is_set():
            raise Canceled(f"Canceled after denoising step {step + 1} of {total}.")
        done = (step + 1) / total
        report(DENOISE_START + (DENOISE_END - DENOISE_START) * done, f"denoising step {step + 1}/{total}")
        if step + 1 == total:
            report(DECODE_AT, "decoding")
        return callback_kwargs

    return on_step_end


def call_arguments(spec: ModelSpec, plan: RenderPlan) -> tuple[dict[str, Any], int]:
    """Pipeline keyword arguments, and how many leading output frames are conditioning prefix."""
    kwargs: dict[str, Any] = {
        "prompt": plan.prompt,
        "negative_prompt": plan.negative_prompt,
        "height": plan.height,
        "width": plan.width,
        "num_frames": plan.frames,
        "guidance_scale": plan.guidance_scale,
        "generator": torch.Generator("cpu").manual_seed(plan.seed),
        "output_type": "np",
    }
    if spec.timesteps is not None and plan.steps == len(spec.timesteps):
        kwargs["timesteps"] = list(spec.timesteps)
    else:
        kwargs["num_inference_steps"] = plan.steps
    kwargs.update(spec.call_defaults)
    prefix = 0
    if spec.family == "ltx":
        kwargs["frame_rate"] = plan.fps
        prefix = _ltx_conditions(kwargs, plan)
    elif plan.keyframes:
        kwargs["image"] = _image(plan.keyframes[0], plan)
        if len(plan.keyframes) > 1:
            kwargs["last_image"] = _image(plan.keyframes[-1], plan)
    return kwargs, prefix


def _image(key: Keyframe, plan: RenderPlan) -> Any:
    if key.from_video:
        return first_video_frame(key.path, plan.width, plan.height)
    return load_image(key.path, plan.width, plan.height)


def _ltx_conditions(kwargs: dict[str, Any], plan: RenderPlan) -> int:
    """LTXVideoCondition list for keyframes or an extension; returns the prefix frame count."""
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    if plan.extend_from is None:
        if plan.keyframes:
            kwargs["conditions"] = [LTXVideoCondition(image=_image(k, plan), frame_index=k.frame) for k in plan.keyframes]
        return 0
    source = tail_frames(plan.extend_from, MAX_PREFIX_FRAMES, plan.width, plan.height)
    # Conditioning videos must be 8k+1 frames, like the output.
    prefix = (len(source) - 1) // 8 * 8 + 1
    if prefix + plan.frames > 257:
        raise InvalidRequest(
            f"An extension renders at most {257 - prefix} new frames; ask for a shorter duration.",
            param="duration_s",
        )
    kwargs["conditions"] = [LTXVideoCondition(video=source[-prefix:], frame_index=0)]
    kwargs["num_frames"] = prefix + plan.frames
    return prefix
