"""Recovering a charged-but-lost job: a create whose answer never arrived ended `unknown` (never
resent). Where the provider can list or look up its jobs, the one job that create started is found
again by what it asked for and when, its remote id adopted, and the job finishes as if nothing had
happened: polled, downloaded, probed, charged once. Run by `reelforge jobs recover`, and by every
server at start for its `unknown` jobs.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from reelforge.errors import CannotRecover, InvalidRequest, OutcomeUnknown, ReelforgeError
from reelforge.generation_spec import GenerationSpec
from reelforge.jobs.job import Job, JobStatus
from reelforge.providers.base import LostCreate, RemoteProvider

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

log = logging.getLogger(__name__)
#: Unknown jobs older than this are left alone at start (their provider may have deleted them).
RECENT_S = 7 * 86400


async def recover(studio: Studio, job_id: str) -> Job:
    """Find the remote job of an `unknown` generate job and resume it; or say, in the job's notes, why not."""
    job = studio.store.require(job_id)
    if job.kind != "generate" or job.status is not JobStatus.UNKNOWN or job.remote_id:
        raise InvalidRequest(f"Job {job_id} is a {job.kind} job that ended {job.status.value}; only a generation whose "
                             "create answer was lost (status unknown) can be recovered.", param="job_id")
    model = studio.catalog.find(job.provider or "", job.model or "")
    provider = studio.provider(job.provider or "", job.user_id)
    if model is None or not isinstance(provider, RemoteProvider):
        raise InvalidRequest(f"Job {job_id}'s model {job.provider}/{job.model} is no longer a remote model in the catalog.")
    lost = LostCreate(job.id, GenerationSpec.model_validate(job.request), sent_after=job.created_at,
                      sent_before=job.finished_at or time.time())
    try:
        remote_id = await provider.find_lost(lost, model)
    except (CannotRecover, OutcomeUnknown) as exc:  # cannot list, or more than one job matches
        return _note(studio, job, f"Recovery: {exc}")
    if remote_id is None:
        return _note(studio, job, f"Recovery: no job at {provider.title} matches this request in its time window, so "
                                  "the lost create most likely never started one (and nothing was charged).")
    note = f"Recovery: found remote job {remote_id} at {provider.title} (the create's lost answer); resumed, not resent."
    # `recovered` keeps it from ever falling back: a create whose answer was lost is never treated as unpaid.
    job = studio.store.update(job_id, remote_id=remote_id, status=JobStatus.RUNNING, error_code=None,
                              error_message=None, finished_at=None, stage=f"recovered at {provider.title}",
                              state={**job.state, "recovered": True}, notes=[*job.notes, note])
    studio.runner.start(job_id, again=True)
    return job


def _note(studio: Studio, job: Job, note: str) -> Job:
    return job if note in job.notes else studio.store.update(job.id, notes=[*job.notes, note])


def lost_jobs(studio: Studio, since: float | None = None) -> list[Job]:
    """`unknown` generations with no remote id (their create's answer was lost), newest first."""
    since = time.time() - RECENT_S if since is None else since
    return [job for job in studio.store.list(status=JobStatus.UNKNOWN.value, kind="generate", limit=1000)
            if job.remote_id is None and job.created_at >= since]


async def recover_all(studio: Studio) -> list[Job]:
    """Try every recent lost job once (a server at start); a failure is logged, never raised."""
    results = []
    for job in lost_jobs(studio):
        try:
            results.append(await recover(studio, job.id))
        except ReelforgeError as exc:
            log.warning("could not recover job %s: %s", job.id, exc)
        except Exception:  # a provider's list failing oddly must not stop the server's start
            log.exception("recovering job %s failed", job.id)
    return results
