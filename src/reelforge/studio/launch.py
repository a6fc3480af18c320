"""Launching prepared work: re-attach a repeat (free), else budget and confirmation, then the
ledger row, then the runner. The row is committed before any paid request is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from reelforge.jobs.job import Job
from reelforge.studio.budget import check_budget
from reelforge.studio.caller import current_user
from reelforge.studio.prepared import Prepared
from reelforge.studio.quotas import check_quota
from reelforge.studio.reattach import call_digest, existing_for, reattach, request_digest, scoped_key
from reelforge.studio.tool_schemas import CallOptions

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

R = TypeVar("R", bound=CallOptions)
PrepareFn = Callable[["Studio", R], Prepared]


def launch(studio: Studio, prepared: Prepared, call: CallOptions) -> Job:
    """Budget and confirmation, then the ledger row and the runner. A repeat re-attaches first, for free."""
    existing = existing_for(studio, prepared, call)
    if existing is not None:
        return existing
    user = current_user()
    check_quota(studio, user, prepared)
    check_budget(studio, max(prepared.quote_usd, prepared.budget_usd or 0.0), call, prepared.what)
    return create_job(studio, prepared, call, user=user)


def create_job(studio: Studio, prepared: Prepared, call: CallOptions | None, *,
               state: dict[str, Any] | None = None, user: str | None = None) -> Job:
    """Commit the job row, then start it (callers have checked for a repeat and the budget)."""
    key = scoped_key(call.idempotency_key, user) if call else None
    job = Job(kind=prepared.kind, request=prepared.request, quote_usd=prepared.quote_usd,
              quote=prepared.quote_detail, provider=prepared.provider, model=prepared.model,
              parents=prepared.parents, notes=prepared.notes, idempotency_key=key,
              request_hash=request_digest(prepared.kind, prepared.request, prepared.parents, user),
              eta_s=prepared.eta_s,
              state=state or prepared.state or {},
              call_hash=call_digest(prepared.kind, prepared.request, prepared.parents, call) if call and key else None,
              user_id=user,
              **studio.runner.lease_fields())
    stored = studio.store.insert(job)
    if stored.id != job.id:  # another process took this idempotency key first: its job, not ours to run
        return reattach(studio, stored, f"idempotency_key '{call.idempotency_key if call else key}' matches job "
                                        f"{stored.id}; no new job was started.")
    studio.runner.start(stored.id)
    return stored


async def prepare_off_loop(studio: Studio, prepare: PrepareFn[R], request: R) -> Prepared:
    """Prepare in a worker thread: URL vetting resolves DNS and input files are probed."""
    return await anyio.to_thread.run_sync(prepare, studio, request)


async def start(studio: Studio, prepare: PrepareFn[R], request: R, prepared: Prepared | None = None) -> Job:
    """Prepare (unless the caller already did, e.g. to ask for approval) and launch."""
    if prepared is None:
        prepared = await prepare_off_loop(studio, prepare, request)
    return launch(studio, prepared, request)
