"""Child steps: the generations a derived job (extend, loop, compose) pays for.

Steps are planned and quoted when the request arrives (the whole cost is checked before anything
starts) and stored in the parent's request. When the parent runs, each step becomes a child
`generate` job, created once: its id is checkpointed, and the child row names its parent and step
key, so a parent that died between creating the child and checkpointing it finds that child again
instead of paying for a second one. A step already paid for by an identical parent that failed
after it is re-used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, ReelforgeError
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import JobContext
from reelforge.jobs.store import JobStore
from reelforge.studio.launch import create_job
from reelforge.studio.planning import GenerationPlan
from reelforge.studio.prepared import from_plan

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

#: How many recent succeeded generations are searched for a re-usable step: a retry comes soon after the failure.
_REUSE_WINDOW = 200
_GAVE_UP = (JobStatus.FAILED, JobStatus.CANCELED)


async def run_step(studio: Studio, ctx: JobContext, key: str, step: dict[str, Any], *, many: bool = False,
                   parent: Job | None = None) -> Job:
    """Create (once) and wait for the child generate job of a stored step.

    `many` (a batch, hundreds of steps at once): the child is not checkpointed in the parent's row
    and the parent's stage is not set per step. Each such write re-read the parent's whole row,
    which holds every item, so a batch cost O(items²); the child is found by its step key instead,
    which is what a restart relies on anyway. Such a caller also hands in the `parent` row it read once:
    hundreds of steps each holding their own parse of a row that lists every item took ~1 MB a step."""
    job = parent or ctx.job  # at most one read of the parent's row
    child_id = job.state.get(key) or next((c.id for c in studio.store.steps(key, parent=ctx.job_id)), None)
    if child_id is None and step.get("reuse"):
        # Quoted at $0 because this paid step was to be re-used: use exactly it, never pay instead.
        paid = studio.store.get(step["reuse"])
        if paid is None or paid.status is not JobStatus.SUCCEEDED or not Path(paid.outputs.get("path") or "").is_file():
            raise InvalidRequest(
                f"The continuation this job was quoted to re-use (step job {step['reuse']}) is no longer available, "
                "so it was not paid for again.", hint="Call again for a new quote.")
    else:
        paid = reusable_step(studio.store, step["spec"], key) if child_id is None else None
    if paid is not None:  # pinned at quote time, or found now (costs less than quoted, never more)
        child_id = paid.id
        ctx.update(notes=[*ctx.job.notes, f"Re-used step job {paid.id} (made for {', '.join(paid.parents)}, "
                                          "which failed after it); nothing new was charged."])
    if child_id is None:
        plan = GenerationPlan.from_state(studio, step)
        prepared = from_plan("generate", plan, f"Step {key}", plan.spec.model_dump(mode="json"), parents=[ctx.job_id])
        child_id = create_job(studio, prepared, None, state={"step_key": key}, user=job.user_id).id
    if not many:
        if job.state.get(key) != child_id:
            ctx.checkpoint(**{key: child_id})
        ctx.update(status=JobStatus.RUNNING, stage=f"waiting for step job {child_id}")
    return await ctx.wait_for(child_id)


def reusable_step(store: JobStore, spec: dict[str, Any], key: str) -> Job | None:
    """A finished step job for exactly this generation whose every parent failed or was canceled
    after it: an identical retry re-uses it (and its file) instead of paying again."""
    for job in store.steps(key, status=JobStatus.SUCCEEDED.value, limit=_REUSE_WINDOW):
        if job.request != spec or not job.parents:
            continue
        if not Path(job.outputs.get("path") or "").is_file():
            continue
        owners = [store.get(parent) for parent in job.parents]
        if all(o is not None and o.kind != "generate" and o.status in _GAVE_UP for o in owners):
            return job
    return None


def sum_cost(*jobs: Job) -> float:
    return round(sum(j.cost_usd or 0.0 for j in jobs), 4)


def step_cost(studio: Studio, ctx: JobContext) -> float:
    """What this job's step jobs cost (checkpointed ones included, e.g. a re-used step)."""
    ids = {c.id for c in studio.store.children(ctx.job_id)}
    ids |= {v for k, v in ctx.job.state.items() if k.endswith("_id") and isinstance(v, str)}
    return sum_cost(*(j for j in (studio.store.get(i) for i in ids) if j is not None and j.kind == "generate"))


def own_the_spend(studio: Studio, ctx: JobContext, exc: Exception, made: Job | None) -> None:
    """A derived job that fails after its steps spent money reports that cost, and says what of
    the work is kept: the parent's failure is not the provider's refund."""
    cost = step_cost(studio, ctx)
    ctx.update(cost_usd=cost)
    if made is None or not isinstance(exc, ReelforgeError):
        return
    spent = f" (${cost:.2f}, already charged)" if cost > 0 else ""
    exc.message = f"The continuation (step job {made.id}) was made{spent}, but joining it failed: {exc.message}"
    kept = "An identical call re-uses it without paying again" if cost > 0 else "It is kept"
    exc.hint = " ".join(x for x in (exc.hint, f"{kept}: {made.outputs.get('path')}.") if x)
