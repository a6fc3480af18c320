"""What a job's handler sees while it runs: its row, fenced checkpoints and progress, and its step jobs.

Writes go through the runner's lease (`jobs/lease.py`): a write refused because another process
took the job over stops this handler; one refused because `cancel_job` ended the row elsewhere turns
into a cancel here (so the provider is told too).
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from reelforge.errors import ReelforgeError
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.store import JobStore, LeaseLost


class Driving(Protocol):
    """The runner, as a handler's context uses it (the runner module imports this one)."""

    store: JobStore
    owner: str

    def notify(self, job: Job) -> None: ...
    def stop(self, job_id: str) -> None: ...
    async def wait_change(self, job_id: str, timeout: float) -> bool: ...


class JobContext:
    """What a handler sees: its job, checkpoints, progress, and child jobs."""

    def __init__(self, runner: Driving, job_id: str, *, resumed: bool) -> None:
        self.runner = runner
        self.job_id = job_id
        self.resumed = resumed
        self.cancel_requested = False
        #: Another process drives this job now (it took the lapsed lease): stop and write nothing.
        self.lease_lost = False
        self._started = time.monotonic()

    @property
    def store(self) -> JobStore:
        return self.runner.store

    @property
    def job(self) -> Job:
        return self.store.require(self.job_id)

    def update(self, **fields: Any) -> Job:
        try:
            job = self.store.update(self.job_id, held_by=self.runner.owner, **fields)
        except LeaseLost:
            job = self._refused(fields.get("remote_id"))
        self.runner.notify(job)
        return job

    def checkpoint(self, **state: Any) -> Job:
        try:
            job = self.store.merge_state(self.job_id, held_by=self.runner.owner, **state)
        except LeaseLost:
            job = self._refused(None)
        self.runner.notify(job)
        return job

    def _refused(self, remote_id: str | None) -> Job:
        """A fenced write was refused. If `cancel_job` in another process ended the row, this job
        stops here as a cancel (so the provider is told too), keeping a remote id it just got;
        otherwise another process drives it now and this one must stop writing."""
        job = self.store.require(self.job_id)
        if job.status is not JobStatus.CANCELED:
            self.lease_lost = True
            raise LeaseLost(f"Job {self.job_id} is driven by another process now; this one stops.")
        if remote_id and not job.remote_id:  # a paid job's id is never dropped, canceled or not
            job = self.store.update(self.job_id, remote_id=remote_id)
        self.cancel_requested = True
        self.runner.stop(self.job_id)
        return job

    async def progress(self, fraction: float | None, stage: str) -> None:
        """Record progress (0..1, monotonic within a stage sequence) and a short stage label."""
        self.update(stage=stage, **self.progress_fields(fraction, self.job.progress))

    def progress_fields(self, fraction: float | None, shown: float | None) -> dict[str, Any]:
        """The fields that record `fraction` over the progress `shown` so far (it never goes back), and
        an honest ETA from the observed rate once there is one; none for an unknown fraction."""
        if fraction is None or math.isnan(fraction):
            return {}
        done = max(shown or 0.0, min(1.0, max(0.0, fraction)))
        fields: dict[str, Any] = {"progress": done}
        if done >= 0.05:
            elapsed = time.monotonic() - self._started
            fields["eta_s"] = round(elapsed / done * (1.0 - done), 1)
        return fields

    async def wait_for(self, child_id: str) -> Job:
        """Wait until another job ends; its failure becomes this job's failure."""
        while True:
            child = self.store.require(child_id)
            if child.status.terminal:
                break
            await self.runner.wait_change(child_id, timeout=5.0)
        if child.status is not JobStatus.SUCCEEDED:
            raise _child_error(child)
        return child


class ChildJobFailed(ReelforgeError):
    code = "child_failed"


def _child_error(child: Job) -> ReelforgeError:
    return ChildJobFailed(
        f"Step job {child.id} ({child.kind}) ended {child.status.value}: "
        f"{child.error_message or 'no detail'}",
        hint=f"Read reelforge://jobs/{child.id} for details.",
    )
