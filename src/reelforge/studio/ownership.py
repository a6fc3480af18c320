"""On a shared service each job belongs to the user whose call started it: another user is told it
does not exist (never that it is someone else's). A single-user server (no caller) sees every job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelforge.errors import JobNotFound
from reelforge.jobs.job import Job

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


def visible_job(studio: Studio, job_id: str, user: str | None) -> Job:
    job = studio.store.get(job_id)
    if job is None or (user is not None and job.user_id != user):
        raise JobNotFound(f"No job with id '{job_id}'.", hint="Call list_jobs to see the ids of recent jobs.")
    return job


def visible_jobs(studio: Studio, user: str | None, *, status: str | None = None, limit: int = 50) -> list[Job]:
    return studio.store.list(status=status, limit=limit, user=user)
