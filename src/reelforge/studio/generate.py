"""generate_video and estimate_cost: one generation, rendered here or sent to a provider.

A remote generation is submitted once, polled until done (`jobs/polling.py`) and downloaded at
once; an attempt that cost nothing may move on to the job's next plan (`studio/fallback.py`). A
job that was mid-submit when its server died ends `unknown` (never resubmitted); one with a stored
remote id resumes polling. Local renders (preview, the GPU backend) are free and simply
run again after a restart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from reelforge.catalog import ModelEntry
from reelforge.errors import Canceled, InvalidRequest, OutcomeUnknown, ReelforgeError
from reelforge.generation_spec import GenerationSpec
from reelforge.jobs.job import JobStatus
from reelforge.jobs.polling import PollPolicy, poll_until_done
from reelforge.jobs.runner import JobContext
from reelforge.providers.base import LocalProvider, RemoteProvider, RemoteState, creating_for
from reelforge.studio import fallback
from reelforge.studio.artifacts import finalize
from reelforge.studio.clip_sources import resolve_image, resolve_video
from reelforge.studio.planning import GenerationPlan, plan
from reelforge.studio.policies import DEFAULT_QUALITY, Routed, route
from reelforge.studio.prepared import Prepared, from_plan
from reelforge.studio.pricing import Quote
from reelforge.studio.styles import is_applied_note
from reelforge.studio.tool_schemas import GenerateRequest

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

log = logging.getLogger(__name__)


def _plan_request(studio: Studio, req: GenerateRequest, **route: str) -> GenerationPlan:
    return plan(studio, req, first=resolve_image(studio, req.image, "image"),
                last=resolve_image(studio, req.last_image, "last_image"),
                video=resolve_video(studio, req.video, "video"), loop=req.loop, **route)


def prepare(studio: Studio, req: GenerateRequest) -> Prepared:
    planned = _plan_request(studio, req)
    prepared = from_plan("generate", planned, f"This {planned.model.key} clip", planned.spec.model_dump(mode="json"))
    plans = fallback.chain(studio, req, planned, _plan_request)
    if plans:
        prepared.state = {"fallbacks": [step.to_state() for step in plans]}
        prepared.budget_usd = max(step.quote.usd for step in [planned, *plans])
        prepared.notes.append(fallback.chain_note(studio, planned, plans, prepared.budget_usd))
    return prepared


def estimate(studio: Studio, req: GenerateRequest, *, compare: bool) -> tuple[list[Quote], Routed | None]:
    """Quote one request; or (compare) every eligible provider/model ranked by the request's route
    (cheapest first under the default), with the reason each other model was excluded."""
    if not compare:
        planned = _plan_request(studio, req)
        # A warning (a retired API redirected to another provider) travels with the price it explains, and
        # so does what a style or a camera rewrite changed: the quote describes the request as it will run.
        warnings = [note for note in planned.notes if note.startswith("Warning:") or is_applied_note(note)]
        quote = planned.quote
        return [quote.model_copy(update={"breakdown": " ".join([*warnings, quote.breakdown])}) if warnings else quote], None
    first = resolve_image(studio, req.image, "image")  # resolved once for every model compared
    last = resolve_image(studio, req.last_image, "last_image")
    video = resolve_video(studio, req.video, "video")

    def plan_one(name: str, model: str) -> GenerationPlan:
        return plan(studio, req.model_copy(update={"provider": name, "model": model or None}), first=first, last=last,
                    video=video, loop=req.loop, provider=name)

    policy = req.route or studio.settings.route
    routed = route(studio, "cheapest" if policy == "preference" else policy, plan_one, everything=True)
    return [candidate.plan.quote for candidate in routed.ranked], routed


def estimate_view(routed: Routed | None) -> dict[str, Any]:
    """A comparison's policy, ranking figures and exclusions, as estimate_cost and the CLI show them."""
    if routed is None:
        return {}
    return {"route": routed.policy,
            "ranking": [{"model": c.key, "usd": c.plan.quote.usd, "expected_s": c.expected_s, "measured": c.measured,
                         "quality": c.plan.model.quality or DEFAULT_QUALITY} for c in routed.ranked],
            "excluded": [{"model": key, "reason": reason} for key, reason in routed.excluded]}


async def run(studio: Studio, ctx: JobContext) -> None:
    while True:  # one pass per attempt: the first plan, then each fallback an unpaid failure moves on to
        try:
            await _attempt(studio, ctx)
            return
        except fallback.FailedAtProvider as failed:
            if not fallback.move_on(studio, ctx, failed.error, failed):
                raise failed.error from None
        except ReelforgeError as exc:
            if not fallback.move_on(studio, ctx, exc):
                raise


async def _attempt(studio: Studio, ctx: JobContext) -> None:
    job = ctx.job
    spec = GenerationSpec.model_validate(job.request)
    model = studio.catalog.find(job.provider or "", job.model or "")
    if model is None:
        raise InvalidRequest(f"Model {job.provider}/{job.model} is no longer in the catalog.")
    provider = studio.provider(job.provider or "", job.user_id)  # the user's own keys, in any process
    dest = studio.job_dir(job.id) / "video.mp4"
    if isinstance(provider, LocalProvider):
        ctx.update(stage="waiting for the local renderer")
        async with studio.render_limiter(provider.name):
            ctx.update(status=JobStatus.RUNNING, stage="rendering")
            await provider.render(spec, model, dest, ctx.progress)
        await finalize(ctx, dest, cost_usd=0.0)
        return
    assert isinstance(provider, RemoteProvider)
    cost, frame = await _drive_remote(studio, ctx, provider, spec, model, dest)
    await finalize(ctx, dest, cost_usd=cost, attach={"last_frame": str(frame)} if frame else None)


async def _drive_remote(studio: Studio, ctx: JobContext, provider: RemoteProvider, spec: GenerationSpec,
                        model: ModelEntry, dest: Path) -> tuple[float | None, Path | None]:
    """Submit once, poll until done, download at once. Returns the provider-reported cost if any, and
    the provider's last-frame still where it sent one."""
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
            sending = creating_for.set(ctx.job_id)  # a client reference where the API takes one
            try:
                remote_id = await provider.submit(spec, model)
            finally:
                creating_for.reset(sending)
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
        status = await poll_until_done(lambda: provider.poll(remote_id, model), ctx,
                                       PollPolicy.for_model(studio.settings, model), where=provider.name,
                                       remote_id=remote_id, first_eta_s=ctx.job.eta_s or model.typical_seconds)
        if status.state is RemoteState.FAILED:
            assert status.error is not None
            raise fallback.FailedAtProvider(status.error, status.failure_code, status.cost_usd)
        if status.state is RemoteState.CANCELED:
            raise Canceled(f"{provider.name} reports the job was canceled.")
        ctx.update(status=JobStatus.DOWNLOADING, stage="downloading output")
        await provider.download(status, model, dest)  # an expired link is refreshed there, never here
        frame = dest.with_name("last_frame.png")
        return status.cost_usd, frame if await provider.download_last_frame(status, frame) else None
    except anyio.get_cancelled_exc_class():
        if ctx.cancel_requested:
            with anyio.CancelScope(shield=True), anyio.move_on_after(20):
                await provider.cancel(remote_id, model)
        raise
