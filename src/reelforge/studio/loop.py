"""make_loop: a seamless loop from a clip, or from a new generation.

A provider that loops natively (or by pinning one image at both ends) is asked to; its file's seam
is measured and it is repeated by stream copy. Otherwise the loop is made here: a loop-point
search, a tail-into-head crossfade or a ping-pong, with the seam score reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from reelforge.jobs.job import JobStatus
from reelforge.jobs.runner import JobContext
from reelforge.studio.artifacts import finalize
from reelforge.studio.clip_sources import resolve_clip, resolve_image
from reelforge.studio.planning import GenerationPlan, plan
from reelforge.studio.prepared import Prepared, from_plan
from reelforge.studio.steps import own_the_spend, run_step, sum_cost
from reelforge.studio.tool_schemas import GenerationOptions, LoopRequest

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


def prepare(studio: Studio, req: LoopRequest) -> Prepared:
    request: dict[str, Any] = {"strategy": req.strategy, "crossfade_s": req.crossfade_s, "repeat": req.repeat}
    if req.source is not None:
        path, source_job = resolve_clip(studio, req.source)
        request["source_path"] = str(path)
        return Prepared(kind="loop", request=request, quote_usd=0.0, what="This loop",
                        parents=[source_job.id] if source_job else [], eta_s=15)
    assert req.generate is not None
    planned = _generation_plan(studio, req.generate, req.image, req.strategy)
    request["native"] = planned.spec.loop
    request["step"] = planned.to_state()
    return from_plan("loop", planned, f"Generating a loop with {planned.model.key}", request, extra_eta=15)


def _generation_plan(studio: Studio, opts: GenerationOptions, image: str | None, strategy: str) -> GenerationPlan:
    first = resolve_image(studio, image, "image")
    if strategy == "native":
        return plan(studio, opts, first=first, loop=True)
    planned = plan(studio, opts, first=first)
    loop_mode = planned.model.capabilities.loop
    # "keyframe" models loop by pinning the same image at both ends, so they need a first frame.
    if strategy == "auto" and (loop_mode == "native" or (loop_mode == "keyframe" and first is not None)):
        return plan(studio, opts, first=first, loop=True, provider=planned.model.provider)
    return planned


async def run(studio: Studio, ctx: JobContext) -> None:
    from reelforge.media.loop import make_loop, repeat_video
    from reelforge.media.seam import loop_seam

    job = ctx.job
    req = job.request
    cost = 0.0
    out = studio.job_dir(job.id) / "loop.mp4"
    if "step" in req:
        child = await run_step(studio, ctx, "child_id", req["step"])
        cost = sum_cost(child)
        source = Path(child.outputs["path"])
        if req.get("native"):
            # The provider looped it; measure the seam on its file and repeat by stream copy.
            repeat = int(req.get("repeat", 1))
            async with studio.media_limiter:
                await repeat_video(source, out, repeat)
            seam = await anyio.to_thread.run_sync(loop_seam, source)
            extra = {"strategy": "native", "repeat": repeat, "seam": seam.model_dump(mode="json")}
            await finalize(ctx, out, extra=extra, cost_usd=cost)
            return
    else:
        source = Path(req["source_path"])
    strategy = req["strategy"] if req["strategy"] != "native" else "auto"
    ctx.update(status=JobStatus.RUNNING, stage=f"making a {strategy} loop")

    async def on_progress(fraction: float) -> None:
        await ctx.progress(fraction, "making the loop")

    try:
        async with studio.media_limiter:
            result = await make_loop(source, out, strategy=strategy, crossfade_s=req.get("crossfade_s"),
                                     repeat=req.get("repeat", 1), progress=on_progress)
    except Exception as exc:  # a generated source was paid for: the failed job says what it cost
        own_the_spend(studio, ctx, exc, None)
        raise
    await finalize(ctx, out, extra={"loop": result.model_dump(mode="json")}, cost_usd=cost)
