"""Safe fallback: which plans a generation may move on to, and when it may move on.

A job moves on to its next plan only when the attempt it leaves cost nothing:

- the provider refused the job before accepting it (no remote id: auth, credits, a rate limit,
  moderation at submit, the provider down); or
- the provider accepted it and then reported a terminal FAILED that its own documentation says is
  not charged (the catalog's `failed_not_charged`, per provider and failure code), and reported no
  cost for it either.

Never after an ambiguous create (`unknown`, even once recovered: the lost answer might have been a
second paid job), never after a cancel, a timeout or a failed download, and never at a provider
that charges for failures or says nothing. Every attempt left behind is recorded in the job's state
(provider, model, remote id, cost 0, the error and why it moved on); the budget was checked at the
highest quote of the chain, since at most one attempt is charged.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from reelforge.errors import Canceled, InvalidRequest, OutcomeUnknown, ReelforgeError
from reelforge.jobs.job import JobStatus
from reelforge.jobs.runner import JobContext
from reelforge.studio.planning import GenerationPlan

if TYPE_CHECKING:
    from collections.abc import Callable

    from reelforge.studio.core import Studio
    from reelforge.studio.tool_schemas import GenerateRequest

log = logging.getLogger(__name__)

#: How many of the route's next choices `fallback=true` keeps.
ROUTE_FALLBACKS = 2


class FailedAtProvider(Exception):
    """A job the provider had accepted ended FAILED there: the mapped error, with the provider's own
    failure code and the cost it reported (what the no-charge rule reads)."""

    def __init__(self, error: ReelforgeError, code: str | None, cost_usd: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.code = code
        self.cost_usd = cost_usd


def chain(studio: Studio, req: GenerateRequest, planned: GenerationPlan,
          plan_request: Callable[..., GenerationPlan]) -> list[GenerationPlan]:
    """The plans tried after the first one: the caller's list, each planned and quoted now (a
    fallback that could not run is refused before anything is paid), or the route's next choices at
    other providers."""
    if not req.fallback:
        return []
    if isinstance(req.fallback, list):
        plans = []
        for i, entry in enumerate(req.fallback):
            name, _, model = entry.partition("/")
            try:
                plans.append(plan_request(studio, req.model_copy(update={
                    "provider": name, "model": model or None, "fallback": False, "route": None})))
            except ReelforgeError as exc:
                raise InvalidRequest(f"fallback[{i}] '{entry}': {exc.message}", param=f"fallback[{i}]",
                                     hint=exc.hint or "Remove it or set what it needs.") from None
        return plans
    routed = planned.routed or plan_request(studio, req.model_copy(update={
        "provider": "auto", "model": None, "route": "best", "fallback": False})).routed
    plans, used = [], {planned.model.provider}
    for candidate in routed.ranked if routed else []:
        if candidate.plan.model.provider not in used and not candidate.plan.renders_here:
            used.add(candidate.plan.model.provider)
            plans.append(candidate.plan)
    return plans[:ROUTE_FALLBACKS]


def chain_note(studio: Studio, planned: GenerationPlan, plans: list[GenerationPlan], budget_usd: float) -> str:
    """What the job says when it is planned: when it may fall back, to what, and the budget."""
    rule = studio.catalog.providers[planned.model.provider].failed_not_charged
    after = (f", or fails in a way {studio.catalog.providers[planned.model.provider].title} documents as not "
             f"charged ({', '.join(rule.codes)})" if rule else "")
    return (f"Fallback, only if {planned.model.key} refuses the job before accepting it{after}: "
            f"{', '.join(f'{step.model.key} (${step.quote.usd:.2f})' for step in plans)}. At most one attempt is "
            f"charged; the budget is checked at the highest quote (${budget_usd:.2f}).")


def _why_unbilled(studio: Studio, provider: str, failed: FailedAtProvider | None) -> str | None:
    """Why an accepted job's failure cost nothing, or None when that is not documented (or the
    provider reported a cost: its word on this job wins over its documentation)."""
    entry = studio.catalog.providers.get(provider)
    rule = entry.failed_not_charged if entry else None
    if entry is None or rule is None or failed is None or not rule.covers(failed.code) or failed.cost_usd:
        return None
    return f"{entry.title} documents {failed.code or 'such'} failures as not charged ({rule.source[:120]})"


def move_on(studio: Studio, ctx: JobContext, exc: ReelforgeError, failed: FailedAtProvider | None = None) -> bool:
    """Switch the job to its next fallback plan when the attempt that ended cost nothing (see the
    module's rules). One write: the attempt, the new plan and the reset status together, so a restart
    resumes either the old failure or the new attempt, never a mix."""
    job = ctx.job
    attempts = list(job.state.get("attempts") or [])
    plans = job.state.get("fallbacks") or []
    if (isinstance(exc, (OutcomeUnknown, Canceled)) or ctx.cancel_requested or job.state.get("recovered")
            or len(attempts) >= len(plans)):
        return False
    if job.remote_id is None:
        how = "refused the job before accepting it"
    else:
        why = _why_unbilled(studio, job.provider or "", failed)
        if why is None:
            return False
        how = f"accepted the job (remote id {job.remote_id}) and then failed; {why}"
    step = plans[len(attempts)]
    spec = step["spec"]
    attempts.append({"provider": job.provider, "model": job.model, "remote_id": job.remote_id,
                     "quote_usd": job.quote_usd, "cost_usd": 0.0, "error_code": exc.code, "message": exc.message[:300],
                     "moved_on": "refused before accepting" if job.remote_id is None else "failed, not charged",
                     "at": time.time()})
    nxt = f"{spec['provider']}/{spec['model']}"
    note = (f"{job.provider}/{job.model} {how} ({exc.code}: {exc.message[:160]}); nothing was charged. "
            f"Falling back to {nxt} (${step['quote']['usd']:.2f}).")
    log.info("job %s: %s", job.id, note)
    ctx.update(provider=spec["provider"], model=spec["model"], request=spec, quote_usd=step["quote"]["usd"],
               quote=step["quote"], status=JobStatus.QUEUED, stage=f"falling back to {nxt}", progress=None,
               remote_id=None, state={**job.state, "attempts": attempts},
               notes=[*job.notes, *step.get("notes", []), note])
    return True
