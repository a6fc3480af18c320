"""Job handlers: the work behind each job kind, resumable from their checkpoints.

* generate: local render, or submit → poll → download for a remote provider. A job that was
  mid-submit when the server died is reported as `unknown` (never resubmitted); one with a stored
  remote id resumes polling.
* extend / loop / compose: derived jobs. Their generation steps are child `generate` jobs whose
  ids are checkpointed, so a restart waits for the same children instead of paying again.
"""

from __future__ import annotations

import functools
import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from reelforge.errors import Canceled, InvalidRequest, OutcomeUnknown, ProviderTimeout, ReelforgeError
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import Handler, JobContext
from reelforge.providers.base import LocalProvider, RemoteProvider, RemoteState
from reelforge.generation_spec import GenerationSpec
from reelforge.studio.artifacts import finalize

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.studio.core import Studio

log = logging.getLogger(__name__)


def handlers_for(studio: Studio) -> dict[str, Handler]:
    async def generate(ctx: JobContext) -> None:
        await run_generate(studio, ctx)

    async def extend(ctx: JobContext) -> None:
        await run_extend(studio, ctx)

    async def loop(ctx: JobContext) -> None:
        await run_loop(studio, ctx)

    async def compose(ctx: JobContext) -> None:
        from reelforge.studio.compose import run_compose

        await run_compose(studio, ctx)

    return {"generate": generate, "extend": extend, "loop": loop, "compose": compose}


def _model(studio: Studio, job: Job) -> ModelEntry:
    model = studio.catalog.find(job.provider or "", job.model or "")
    if model is None:
        raise InvalidRequest(f"Model {job.provider}/{job.model} is no longer in the catalog.")
    return model


# -- generate ---------------------------------------------------------------------------------------
async def run_generate(studio: Studio, ctx: JobContext) -> None:
    job = ctx.job
    spec = GenerationSpec.model_validate(job.request)
    model = _model(studio, job)
    provider = studio.provider(job.provider or "")
    dest = studio.job_dir(job.id) / "video.mp4"
    if isinstance(provider, LocalProvider):
        ctx.update(stage="waiting for the local renderer")
        async with studio.render_limiter(provider.name):
            ctx.update(status=JobStatus.RUNNING, stage="rendering")
            await provider.render(spec, model, dest, ctx.progress)
        await finalize(ctx, dest, cost_usd=0.0)
        return
    assert isinstance(provider, RemoteProvider)
    cost = await drive_remote(studio, ctx, provider, spec, model, dest)
    await finalize(ctx, dest, cost_usd=cost)


async def drive_remote(studio: Studio, ctx: JobContext, provider: RemoteProvider, spec: GenerationSpec,
                       model: ModelEntry, dest: Path) -> float | None:
    """Submit once, poll until done, download at once. Returns the provider-reported cost if any."""
    job = ctx.job
    if job.remote_id is None:
        if job.status is not JobStatus.QUEUED:
            raise OutcomeUnknown(
                f"The server stopped while sending the create request to {provider.name}; it may have been "
                "accepted and billed. reelforge will not send it again.",
                hint=f"Check your {provider.name} dashboard before generating again.")
        ctx.update(status=JobStatus.SUBMITTING, stage=f"submitting to {provider.name}")
        # Shielded: a cancel must not cut a create request in half (the provider may accept and bill
        # it while we lose its id). The cancel takes effect right after, with the id in hand.
        with anyio.CancelScope(shield=True):
            remote_id = await provider.submit(spec, model)
            try:
                job = ctx.update(remote_id=remote_id, status=JobStatus.RUNNING, stage=f"queued at {provider.name}")
            except Exception as exc:  # the ledger refused the write: never lose the id of a paid job
                log.error("job %s: %s accepted remote job %s but the ledger write failed", ctx.job_id,
                          provider.name, remote_id)
                raise OutcomeUnknown(
                    f"{provider.name} accepted the job (remote id {remote_id}) but reelforge could not record it "
                    f"({type(exc).__name__}).", hint="Do not submit again; find it on the provider's dashboard.",
                ) from exc
    remote_id = job.remote_id
    assert remote_id is not None
    try:
        await anyio.lowlevel.checkpoint()  # a cancel that arrived during the submit lands here
        status = await _poll_until_done(studio, ctx, provider, remote_id, model)
        if status.state is RemoteState.FAILED:
            assert status.error is not None
            raise status.error
        if status.state is RemoteState.CANCELED:
            raise Canceled(f"{provider.name} reports the job was canceled.")
        ctx.update(status=JobStatus.DOWNLOADING, stage="downloading output")
        # An expired output link is refreshed inside `download` (the provider base), never here.
        await provider.download(status, model, dest)
        return status.cost_usd
    except anyio.get_cancelled_exc_class():
        if ctx.cancel_requested:
            with anyio.CancelScope(shield=True), anyio.move_on_after(20):
                await provider.cancel(remote_id, model)
        raise


async def _poll_until_done(studio: Studio, ctx: JobContext, provider: RemoteProvider, remote_id: str,
                           model: ModelEntry):
    s = studio.settings
    interval = s.poll_min_interval_s
    started = anyio.current_time()
    first_eta = ctx.job.eta_s or model.typical_seconds
    while True:
        try:
            status = await provider.poll(remote_id, model)
        except ReelforgeError as exc:
            # The remote job is still running (and billed) whatever a status read says: keep reading
            # at a backed-off pace until the poll budget is spent.
            if not exc.retryable or anyio.current_time() - started > s.max_poll_seconds:
                raise
            wait = max(getattr(exc, "retry_after", None) or 0.0, interval)
            ctx.update(stage=f"status read failed ({exc.code}); retrying in {wait:.0f} s")
            await anyio.sleep(wait)
            interval = min(interval * 1.5, s.poll_max_interval_s)
            continue
        if status.state.terminal:
            return status
        stage = f"{status.raw_status or status.state.value} at {provider.name}"
        fields: dict[str, Any] = {"status": JobStatus.RUNNING, "stage": stage}
        elapsed = anyio.current_time() - started
        fields["eta_s"] = max(0.0, first_eta - elapsed)
        ctx.update(**fields)
        if status.progress is not None:
            await ctx.progress(status.progress, stage)
        if elapsed > s.max_poll_seconds:
            raise ProviderTimeout(
                f"{provider.name} job {remote_id} did not finish within {s.max_poll_seconds:.0f} s.",
                hint="It may still finish at the provider; check its dashboard.")
        pause = max(status.poll_after or 0.0, interval) * random.uniform(0.9, 1.1)
        await anyio.sleep(pause)
        interval = min(interval * 1.5, s.poll_max_interval_s)


# -- child steps ---------------------------------------------------------------------------------------
async def run_step(studio: Studio, ctx: JobContext, key: str, step: dict[str, Any], spec: GenerationSpec) -> Job:
    """Create (once) and wait for a child generate job from a stored plan.

    The child row names its parent and step key, so a parent that died between creating the child and
    checkpointing it finds that child again instead of paying for a second one.
    """
    child_id = ctx.job.state.get(key) or next(
        (c.id for c in studio.store.children(ctx.job_id) if c.state.get("step_key") == key), None)
    if child_id is None:
        paid = reusable_step(studio.store, step["spec"], key)
        if paid is not None:
            child_id = paid.id
            ctx.update(notes=[*ctx.job.notes, f"Re-used step job {paid.id} (made for {', '.join(paid.parents)}, "
                                              "which failed after it); nothing new was charged."])
    if child_id is None:
        from reelforge.studio.core import Plan
        from reelforge.studio.pricing import Quote

        model = studio.catalog.find(spec.provider, spec.model)
        if model is None:
            raise InvalidRequest(f"Model {spec.provider}/{spec.model} is no longer in the catalog.")
        plan = Plan(spec, model, Quote.model_validate(step["quote"]), list(step.get("notes", [])))
        child_id = studio.create_generation(plan, call=None, parents=[ctx.job_id], state={"step_key": key}).id
    if ctx.job.state.get(key) != child_id:
        ctx.checkpoint(**{key: child_id})
    ctx.update(status=JobStatus.RUNNING, stage=f"waiting for step job {child_id}")
    return await ctx.wait_for(child_id)


def reusable_step(store: Any, spec: dict[str, Any], key: str) -> Job | None:
    """A finished step job for exactly this generation whose every parent failed or was canceled
    after it: an identical retry re-uses it (and its file) instead of paying again. Only recent
    generations are searched: a retry comes soon after the failure."""
    for job in store.list(kind="generate", status=JobStatus.SUCCEEDED.value, limit=_REUSE_WINDOW):
        if job.state.get("step_key") != key or job.request != spec or not job.parents:
            continue
        if not Path(job.outputs.get("path") or "").is_file():
            continue
        owners = [store.get(parent) for parent in job.parents]
        if all(o is not None and o.kind != "generate" and o.status in _GAVE_UP for o in owners):
            return job
    return None


_REUSE_WINDOW = 200
_GAVE_UP = (JobStatus.FAILED, JobStatus.CANCELED)


def _sum_cost(*jobs: Job) -> float:
    return round(sum(j.cost_usd or 0.0 for j in jobs), 4)


def _step_cost(studio: Studio, ctx: JobContext) -> float:
    """What this job's step jobs cost (checkpointed ones included, e.g. a re-used step)."""
    ids = {c.id for c in studio.store.children(ctx.job_id)}
    ids |= {v for k, v in ctx.job.state.items() if k.endswith("_id") and isinstance(v, str)}
    return _sum_cost(*(j for j in (studio.store.get(i) for i in ids) if j is not None and j.kind == "generate"))


def _owning_the_spend(studio: Studio, ctx: JobContext, exc: Exception, made: Job | None) -> None:
    """A derived job that fails after its steps spent money reports that cost, and says what of
    the work is kept: the parent's failure is not the provider's refund."""
    cost = _step_cost(studio, ctx)
    ctx.update(cost_usd=cost)
    if made is None or not isinstance(exc, ReelforgeError):
        return
    spent = f" (${cost:.2f}, already charged)" if cost > 0 else ""
    exc.message = f"The continuation (step job {made.id}) was made{spent}, but joining it failed: {exc.message}"
    kept = "An identical call re-uses it without paying again" if cost > 0 else "It is kept"
    exc.hint = " ".join(x for x in (exc.hint, f"{kept}: {made.outputs.get('path')}.") if x)


# -- extend -----------------------------------------------------------------------------------------
async def run_extend(studio: Studio, ctx: JobContext) -> None:
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
        child = await run_step(studio, ctx, "child_id", req["step"], spec)
        ctx.update(cost_usd=_sum_cost(child))  # spent now, whatever the join does
        out = studio.job_dir(job.id) / "extended.mp4"
        ctx.update(status=JobStatus.RUNNING, stage="joining the continuation")

        async def on_progress(fraction: float) -> None:
            await ctx.progress(0.5 + fraction / 2, "joining the continuation")

        async with studio.media_limiter:
            result = await join_continuation(source, Path(child.outputs["path"]), out, progress=on_progress)
    except Exception as exc:  # a bug too: the money was spent all the same
        _owning_the_spend(studio, ctx, exc, child)
        raise
    await finalize(ctx, out, extra={"join": result.model_dump(mode="json"), "mode": req["mode"]},
                   cost_usd=_sum_cost(child))


# -- loop --------------------------------------------------------------------------------------------
async def run_loop(studio: Studio, ctx: JobContext) -> None:
    from reelforge.media.loop import make_loop
    from reelforge.media.seam import loop_seam

    job = ctx.job
    req = job.request
    cost = 0.0
    if "step" in req:
        spec = GenerationSpec.model_validate(req["step"]["spec"])
        child = await run_step(studio, ctx, "child_id", req["step"], spec)
        cost = _sum_cost(child)
        source = Path(child.outputs["path"])
        if req.get("native"):
            # The provider looped it; measure the seam on its file and repeat by stream copy.
            from reelforge.media.loop import repeat_video

            out = studio.job_dir(job.id) / "loop.mp4"
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
    out = studio.job_dir(job.id) / "loop.mp4"
    ctx.update(status=JobStatus.RUNNING, stage=f"making a {strategy} loop")

    async def on_progress(fraction: float) -> None:
        await ctx.progress(fraction, "making the loop")

    async with studio.media_limiter:
        result = await make_loop(source, out, strategy=strategy, crossfade_s=req.get("crossfade_s"),
                                 repeat=req.get("repeat", 1), progress=on_progress)
    await finalize(ctx, out, extra={"loop": result.model_dump(mode="json")}, cost_usd=cost)
