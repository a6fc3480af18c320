"""Turn a `GenerationSpec` into a `RenderPlan`: which task, which frames, which conditions.

Pure python, no torch: every refusal happens here, before a model is loaded.

Conditioning vocabulary (documented in docs/local-gpu.md and the catalog):

* `first_frame` / `last_frame`: images pinned to the first and last output frame.
* `extra["keyframes"]` (the tools' `options.keyframes`): `[{"path": "/abs/img.png", "frame": 40}, {"path": ..., "time_s": 2.5}]`,
  images pinned at any output frame (LTX only). `frame` is the 0-based output frame;
  `time_s` is converted with the output fps.
* `video` (extension): the clip to continue. Its last frames condition the start of the new
  clip; the output is the continuation only, starting right after the source's last frame.
* `loop`: the same image (first_frame, or the first frame of `video`) pinned at the first and
  last frame; the duplicated last frame is dropped so the file repeats seamlessly.
* `extra["steps"]`, `extra["guidance_scale"]`: override the model card's defaults.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import InputNotAllowed, InvalidRequest, UnsupportedParameter
from reelforge.providers.local.specs import ModelSpec, Task, continuation_frames, snap_request
from reelforge.generation_spec import GenerationSpec, MediaRef

EXTRA_KEYS = ("keyframes", "steps", "guidance_scale")
MAX_KEYFRAMES = 8


@dataclass(frozen=True)
class Keyframe:
    path: Path
    frame: int
    #: True when `path` is a video whose first frame is the image (loops made from a clip).
    from_video: bool = False


@dataclass(frozen=True)
class RenderPlan:
    model_id: str
    task: Task
    pipeline: str
    width: int
    height: int
    fps: int
    #: Frames the pipeline generates (for an extension: the new frames only; the prefix is added).
    frames: int
    prompt: str
    negative_prompt: str | None
    seed: int
    steps: int
    guidance_scale: float
    keyframes: tuple[Keyframe, ...] = ()
    extend_from: Path | None = None
    #: Drop the last generated frame (a loop's duplicate of the first).
    drop_last: bool = False


def default_seed(spec: GenerationSpec) -> int:
    """A seed derived from the request, so an identical request renders identically."""
    payload = spec.model_copy(update={"seed": None}).model_dump_json()
    return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:4], "big") & 0x7FFFFFFF


def build_plan(
    spec: GenerationSpec, model: ModelSpec, allowed_roots: list[Path], max_pixels: int | None = None
) -> RenderPlan:
    """Validate the request against the model and decide exactly what to render."""
    _check_extra(spec)
    snap = snap_request(spec.width, spec.height, spec.fps, spec.duration_s, model, max_pixels)
    task = _task_for(spec, model)
    frames = snap.frames
    if task == "extend":
        frames = continuation_frames(spec.duration_s, snap.fps, model)
    elif spec.loop:
        frames = snap_request(spec.width, spec.height, snap.fps, spec.duration_s + 1 / snap.fps, model, max_pixels).frames
    keyframes = _keyframes(spec, model, task, frames, snap.fps, allowed_roots)
    guidance = float(spec.extra.get("guidance_scale", model.guidance_scale))  # type: ignore[arg-type]
    if spec.negative_prompt and guidance <= 1.0:
        raise UnsupportedParameter(
            f"{model.id} runs without classifier-free guidance (guidance_scale {guidance:g}), so a negative "
            "prompt would have no effect; drop it, or pass options.guidance_scale above 1 (e.g. 3).",
            param="negative_prompt",
        )
    return RenderPlan(
        model_id=model.id,
        task=task,
        pipeline=model.pipeline_for(task),
        width=snap.width,
        height=snap.height,
        fps=snap.fps,
        frames=frames,
        prompt=spec.prompt,
        negative_prompt=spec.negative_prompt,
        seed=spec.seed if spec.seed is not None else default_seed(spec),
        steps=int(spec.extra.get("steps", model.steps)),  # type: ignore[call-overload]
        guidance_scale=guidance,
        keyframes=keyframes,
        extend_from=_local(spec.video, "video") if task == "extend" and spec.video else None,
        drop_last=spec.loop,
    )


def _check_extra(spec: GenerationSpec) -> None:
    unknown = sorted(set(spec.extra) - set(EXTRA_KEYS))
    if unknown:
        raise UnsupportedParameter(
            f"The local provider does not accept option(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(EXTRA_KEYS)}.",
            param="options",
        )
    steps = spec.extra.get("steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 100):
        raise InvalidRequest("options.steps must be an integer from 1 to 100.", param="options.steps")
    scale = spec.extra.get("guidance_scale")
    if scale is not None and (not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0 <= scale <= 20):
        raise InvalidRequest("options.guidance_scale must be a number from 0 to 20.", param="options.guidance_scale")


def _task_for(spec: GenerationSpec, model: ModelSpec) -> Task:
    """The pipeline task the inputs call for, refused when this model has no such pipeline."""
    if spec.continue_remote_id is not None or spec.continue_direction == "backward":
        raise UnsupportedParameter(
            "Local models continue a clip forward from its file (video); there is no remote job to continue "
            "and no backward extension.",
            param="direction",
        )
    if spec.loop and (spec.last_frame is not None or spec.extra.get("keyframes")):
        raise InvalidRequest(
            "A loop pins its first frame at both ends; drop last_frame and options.keyframes, or loop=false.",
            param="loop",
        )
    if spec.video is not None and not spec.loop:
        if spec.first_frame or spec.last_frame or spec.extra.get("keyframes"):
            raise InvalidRequest(
                "An extension continues `video`; do not combine it with first_frame, last_frame or keyframes.",
                param="video",
            )
        task: Task = "extend"
    elif spec.extra.get("keyframes") or (spec.last_frame is not None) or spec.loop:
        task = "keyframes"
    elif spec.first_frame is not None:
        task = "i2v"
    else:
        task = "t2v"
    if task not in model.pipelines:
        raise UnsupportedParameter(_unsupported_task_message(task, model), param=_task_param(task))
    if spec.loop and spec.first_frame is None and spec.video is None:
        raise InvalidRequest(
            "A local loop pins one image at the first and last frame: give first_frame (an image) "
            "or video (the first frame of the clip is used).",
            param="first_frame",
        )
    return task


def _task_param(task: Task) -> str:
    return {"t2v": "prompt", "i2v": "first_frame", "keyframes": "last_frame", "extend": "video"}[task]


def _unsupported_task_message(task: Task, model: ModelSpec) -> str:
    what = {
        "t2v": "text-only generation (give first_frame, or use wan2.2-t2v-a14b)",
        "i2v": "an input image (use wan2.2-i2v-a14b or ltx-video-0.9.8-distilled)",
        "keyframes": "last_frame, keyframes or loop (use wan2.2-i2v-a14b for first+last, "
        "ltx-video-0.9.8-distilled for any keyframes)",
        "extend": "video extension (use ltx-video-0.9.8-distilled)",
    }[task]
    return f"{model.id} does not support {what}."


def _keyframes(
    spec: GenerationSpec, model: ModelSpec, task: Task, frames: int, fps: int, roots: list[Path]
) -> tuple[Keyframe, ...]:
    last = frames - 1
    if spec.loop:
        if spec.first_frame is not None:
            image = Keyframe(_local(spec.first_frame, "first_frame"), 0)
        else:
            assert spec.video is not None
            image = Keyframe(_local(spec.video, "video"), 0, from_video=True)
        return (image, Keyframe(image.path, last, image.from_video))
    pinned: list[Keyframe] = []
    if spec.first_frame is not None:
        pinned.append(Keyframe(_local(spec.first_frame, "first_frame"), 0))
    if spec.last_frame is not None:
        pinned.append(Keyframe(_local(spec.last_frame, "last_frame"), last))
    pinned.extend(_extra_keyframes(spec.extra.get("keyframes"), model, last, fps, roots))
    if len(pinned) > MAX_KEYFRAMES:
        raise InvalidRequest(f"At most {MAX_KEYFRAMES} keyframes, got {len(pinned)}.", param="options.keyframes")
    if model.family == "wan" and task == "keyframes" and (not pinned or pinned[0].frame != 0):
        raise InvalidRequest(f"{model.id} needs first_frame together with last_frame.", param="first_frame")
    return tuple(sorted(pinned, key=lambda k: k.frame))


def _extra_keyframes(raw: object, model: ModelSpec, last: int, fps: int, roots: list[Path]) -> list[Keyframe]:
    if not raw:
        return []
    if model.family != "ltx":
        raise UnsupportedParameter(
            f"{model.id} takes first_frame and last_frame only; keyframes at any frame need "
            "ltx-video-0.9.8-distilled.",
            param="options.keyframes",
        )
    if not isinstance(raw, list):
        raise InvalidRequest('options.keyframes must be a list of {"path", "frame" or "time_s"}.', param="options.keyframes")
    out = []
    for i, item in enumerate(raw):
        where = f"options.keyframes[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise InvalidRequest(f'{where} must be an object with "path" and "frame" or "time_s".', param=where)
        if ("frame" in item) == ("time_s" in item):
            raise InvalidRequest(f'{where} needs exactly one of "frame" (0-based) or "time_s".', param=where)
        frame = item["frame"] if "frame" in item else round(float(item["time_s"]) * fps)
        if not isinstance(frame, int) or isinstance(frame, bool) or not 0 <= frame <= last:
            raise InvalidRequest(f"{where}: frame must be an integer from 0 to {last} for this clip.", param=where)
        out.append(Keyframe(_allowed_file(item["path"], roots, where), frame))
    return out


def _local(ref: MediaRef, param: str) -> Path:
    """The file behind an input; the local pipelines read files, never URLs."""
    if ref.kind != "file" or ref.path is None:
        raise InvalidRequest(
            f"The local provider reads {param} from a file on this machine; download the URL first and "
            "pass its path.",
            param=param,
        )
    return ref.local_path


def _allowed_file(raw: str, roots: list[Path], where: str) -> Path:
    """Keyframe paths arrive in `extra`, past the studio's input checks: check them here."""
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidRequest(f"{where}: path must be absolute, got '{raw}'.", param=where)
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise InputNotAllowed(
            f"{where}: {path.name} is outside the allowed input folders; move it under the outputs "
            "folder or add its folder to REELFORGE_ALLOWED_INPUT_ROOTS.",
            param=where,
        )
    if not resolved.is_file():
        raise InvalidRequest(f"{where}: no such image file '{path.name}'.", param=where)
    return resolved
