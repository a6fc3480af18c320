"""extend_video: continue a clip.

Native where the provider has it (a local model that conditions on the video; a cloud model that
extends one of its own generations by remote id), else the exact last frame → image-to-video →
a join conformed to the source (rate, size, bit depth, pixel aspect). The source is probed when
the request arrives, so a clip that cannot be joined is refused before anything is paid for.
"""

from __future__ import annotations

import functools
import hashlib
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from reelforge.errors import InvalidRequest
from reelforge.generation_spec import GenerationSpec, MediaRef
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import JobContext
from reelforge.studio.artifacts import finalize
from reelforge.studio.clip_sources import resolve_clip
from reelforge.studio.planning import GenerationPlan, plan
from reelforge.studio.prepared import Prepared, from_plan
from reelforge.studio.steps import own_the_spend, reusable_step, run_step, sum_cost
from reelforge.studio.tool_schemas import ExtendRequest

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


def prepare(studio: Studio, req: ExtendRequest) -> Prepared:
    from reelforge.media.probe import probe  # PyAV: imported when a request needs it, not at server start

    source_path, source_job = resolve_clip(studio, req.source)
    source = probe(source_path)
    native_plan = _native_plan(studio, req, source_job, source_path)
    if native_plan is not None:
        planned, mode = native_plan, "native"
    else:
        if req.direction == "backward":
            raise InvalidRequest(
                "direction='backward' needs a provider with native extend of one of its own generations "
                "(e.g. Luma); the last-frame method only continues forward.", param="direction")
        # The child conditions on the source's exact last frame, extracted into our cache when the job runs
        # (named by the source's content, never written next to the user's file).
        still = _provider_still(source_job)
        placeholder = MediaRef(kind="file", path=str(still or _last_frame_path(studio, source_path)), mime="image/png")
        planned = plan(studio, req, first=placeholder)
        matched = _match_source(req, planned.model, source)
        if matched is not req:
            earlier = planned.notes  # e.g. a retired model's redirect, said once
            planned = plan(studio, matched, first=placeholder, provider=planned.model.provider)
            planned.notes = list(dict.fromkeys([*earlier, *planned.notes]))
        planned.notes = [*planned.notes, *_shape_notes(planned, source)]
        if still is not None:
            planned.notes.append(f"Continues from {source_job.provider}'s own still of the source's last frame "
                                 "(lossless), not one decoded from the video.")
        mode = "last_frame"
    request = {"source_path": str(source_path), "source_job_id": source_job.id if source_job else None,
               "mode": mode, "step": planned.to_state()}
    output = planned.model.capabilities.extend_output if mode == "native" else "continuation"
    if output == "full":
        request["full_output"] = True  # the provider returns source + continuation: nothing to join
    elif output == "measured":
        request["measure_output"] = True  # decided by the result's length when it arrives
    parents = [source_job.id] if source_job else []
    prepared = from_plan("extend", planned, f"Extending with {planned.model.key}", request, parents=parents,
                         extra_eta=10)
    paid = reusable_step(studio.store, request["step"]["spec"], "child_id")
    if paid is not None:  # a failed identical extend already paid for this continuation: pinned, quoted $0
        request["step"]["reuse"] = paid.id
        prepared.quote_usd = 0.0
        prepared.notes.append(f"Re-uses the continuation of step job {paid.id}, already paid for by an earlier "
                              "extend that failed after it; nothing new is charged.")
    return prepared


async def run(studio: Studio, ctx: JobContext) -> None:
    from reelforge.media.frames import last_frame, save_png
    from reelforge.media.join import join_continuation

    job = ctx.job
    req = job.request
    source = Path(req["source_path"])
    spec = GenerationSpec.model_validate(req["step"]["spec"])
    if req["mode"] == "last_frame":
        assert spec.first_frame is not None and spec.first_frame.path is not None
        frame_png = Path(spec.first_frame.path)
        if not frame_png.exists():
            frame_png.parent.mkdir(parents=True, exist_ok=True)
            await ctx.progress(0.02, "extracting the exact last frame")
            # In square pixels: an anamorphic source is shown to the model as a viewer sees it.
            frame = await anyio.to_thread.run_sync(functools.partial(last_frame, source, square_pixels=True))
            await anyio.to_thread.run_sync(save_png, frame.rgb, frame_png)
    child = None
    try:
        child = await run_step(studio, ctx, "child_id", req["step"])
        ctx.update(cost_usd=sum_cost(child))  # spent now, whatever the join does
        out = studio.job_dir(job.id) / "extended.mp4"
        full = bool(req.get("full_output"))
        if req.get("measure_output"):
            full = await anyio.to_thread.run_sync(_is_whole_video, source, Path(child.outputs["path"]))
            ctx.update(notes=[*ctx.job.notes, "The provider returned the whole extended video; used as it is." if full
                              else "The provider returned only the new seconds; joined to the source."])
        if full:  # already the whole extended video, made by the provider
            await anyio.to_thread.run_sync(shutil.copyfile, child.outputs["path"], out)
            extra: dict[str, Any] = {"mode": req["mode"], "join": None}
        else:
            ctx.update(status=JobStatus.RUNNING, stage="joining the continuation")

            async def on_progress(fraction: float) -> None:
                await ctx.progress(0.5 + fraction / 2, "joining the continuation")

            async with studio.media_limiter:
                result = await join_continuation(source, Path(child.outputs["path"]), out, progress=on_progress)
            extra = {"join": result.model_dump(mode="json"), "mode": req["mode"]}
    except Exception as exc:  # a bug too: the money was spent all the same
        own_the_spend(studio, ctx, exc, child)
        raise
    await finalize(ctx, out, extra=extra, cost_usd=sum_cost(child))


def _is_whole_video(source: Path, result: Path) -> bool:
    """Whether a native extension's result holds the source too: longer than it by over a second.
    (A continuation alone is one generation, never longer than the clip it continues plus a second
    for the models offered this way: their clips are 5 or 10 s, the extensions about 4.5 s.)"""
    from reelforge.media.probe import probe

    return probe(result).duration_s > probe(source).duration_s + 1.0


def _provider_still(source_job: Job | None) -> Path | None:
    """The last-frame still the provider sent with the source clip (Seedance), if it is still there."""
    kept = (source_job.outputs.get("last_frame") if source_job else None) or ""
    return Path(kept) if kept and Path(kept).is_file() else None


def _last_frame_path(studio: Studio, source: Path) -> Path:
    stat = source.stat()
    key = hashlib.sha256(f"{source}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    return studio.settings.cache_dir / "frames" / f"last-{key}.png"


def _match_source(req: ExtendRequest, model: Any, source: Any) -> ExtendRequest:
    """Ask for the continuation in the source's shape where the model allows it and the caller
    did not choose: its frame rate (or a whole fraction of it: 60 fps from a 30 fps render shows
    each frame twice) and its aspect ratio. The join conforms the rest to the source."""
    caps = model.capabilities
    width, height, rate, sar = _source_shape(source)
    update: dict[str, Any] = {}
    if req.fps is None:
        whole = round(rate)
        fits = [f for f in caps.fps if f == whole] or sorted(f for f in caps.fps if whole % f == 0 and f >= whole / 4)[-1:]
        if fits and fits[0] != caps.fps[0]:
            update["fps"] = fits[0]
    if req.aspect_ratio is None:
        shape = math.log(width * sar / height)
        aspect = min(caps.aspect_ratios, key=lambda a: abs(math.log(_ratio(a)) - shape))
        if aspect != caps.aspect_ratios[0]:
            update["aspect_ratio"] = aspect
    return req.model_copy(update={**update, "model": model.id}) if update else req


def _shape_notes(planned: GenerationPlan, source: Any) -> list[str]:
    """What the join will have to change, said up front."""
    width, height, rate, _ = _source_shape(source)
    notes = []
    if abs(planned.spec.fps - rate) > 1e-3 * rate:
        notes.append(f"The continuation is rendered at {planned.spec.fps} fps ({planned.model.key} offers "
                     f"{', '.join(map(str, planned.model.capabilities.fps))}) and resampled to the source's {rate:g} fps.")
    if min(planned.spec.width, planned.spec.height) < min(width, height):
        notes.append(f"The continuation is rendered at {planned.spec.resolution} and scaled up to the source's "
                     f"{width}x{height}; pass a higher resolution for a sharper continuation.")
    return notes


def _source_shape(source: Any) -> tuple[int, int, float, float]:
    """(even width, even height, constant rate, pixel aspect) the extended file will have."""
    from reelforge.media.join import constant_rate, even_size

    width, height = even_size(source.width, source.height)
    rate = float(constant_rate(source.fps)) if source.vfr else source.fps
    num, _, den = (source.sample_aspect_ratio or "1:1").partition(":")
    sar = int(num) / int(den) if num.isdigit() and den.isdigit() and int(num) and int(den) else 1.0
    return width, height, rate, sar


def _ratio(aspect: str) -> float:
    w, _, h = aspect.partition(":")
    return int(w) / int(h)


def _native_plan(studio: Studio, req: ExtendRequest, source_job: Job | None, source_path: Path) -> GenerationPlan | None:
    """Native extend: a local model that continues the clip itself (LTX conditions on the video), or
    a cloud provider whose model extends one of its own generations by remote id (Luma keyframes)."""
    if req.provider in studio.catalog.providers and studio.catalog.providers[req.provider].local:
        entry = studio.catalog.providers[req.provider]
        model = studio.catalog.find(entry.name, req.model) if req.model else next(
            (m for m in entry.models if m.capabilities.extend == "native" and "video" in m.capabilities.inputs), None)
        if model is not None and model.capabilities.extend == "native":
            video = MediaRef(kind="file", path=str(source_path), mime="video/mp4",
                             job_id=source_job.id if source_job else None)
            return plan(studio, req.model_copy(update={"model": model.id}), video=video, provider=entry.name)
    if source_job is None or source_job.kind != "generate" or not source_job.remote_id:
        return None
    wanted = req.provider if req.provider != "auto" else source_job.provider
    if wanted != source_job.provider:
        return None
    opts = req.model_copy(update={"provider": wanted, "model": req.model or source_job.model})
    model = studio.catalog.find(wanted, opts.model or "")
    if model is None or model.capabilities.extend != "native":
        return None
    return plan(studio, opts, continue_remote_id=source_job.remote_id, direction=req.direction, provider=wanted)
