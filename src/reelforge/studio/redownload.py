"""Fetching a paid video again after its download failed, without a second create request.

A generate job that ends `download_failed` has a finished, billed remote job and its stored remote
id. When the same call comes again (same `idempotency_key`, or the identical request moments ago)
the studio re-attaches to that job; this restarts it from the remote id, so the runner reads the
remote job (a fresh output link) and downloads it. Nothing is ever submitted again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelforge.jobs.job import Job, JobStatus

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

DOWNLOAD_FAILED = "download_failed"


def retry_download(studio: Studio, job: Job) -> Job:
    """Restart a `download_failed` generate job from its remote id; any other job is returned as it is."""
    if (job.kind != "generate" or job.status is not JobStatus.FAILED or job.error_code != DOWNLOAD_FAILED
            or not job.remote_id or studio.runner.is_active(job.id)):
        return job
    note = f"fetching the finished video of remote job {job.remote_id} again (no new request was sent)"
    job = studio.store.update(
        job.id, status=JobStatus.RUNNING, error_code=None, error_message=None, finished_at=None,
        stage="fetching the finished video again", notes=[*job.notes, note] if note not in job.notes else job.notes,
    )  # fmt: skip
    studio.runner.start(job.id)
    return job
