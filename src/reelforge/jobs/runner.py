"""The runner: drives every job in one task group owned by the server's lifespan.

On start it resumes each unfinished job from the ledger (a remote job from its stored remote id;
local work from the top, since it is free and deterministic). A job's handler (one per kind,
supplied by the studio) does the work and checkpoints through `JobContext`; the runner owns what
is common: the terminal status, error mapping, cancellation, and change events that drive
progress notifications and `get_job(wait_seconds=...)`.

Shutting the server down cancels the task group but records nothing: unfinished jobs keep their
status and resume on the next start. Only an explicit `cancel_job` marks a job canceled.

Several processes may share one ledger (two servers, or the CLI beside a server). Each job is
driven by one of them, which holds a lease on its row and renews it (`jobs/lease.py`). A serving
runner takes over any unfinished job whose lease lapsed or whose process is known dead, within
about 4/3 of the lease, and resumes it the same way. Work whose lease another process took, or
whose row was ended elsewhere (a `cancel_job` in another process), is stopped here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from reelforge.errors import Canceled, ReelforgeError, explain
from reelforge.jobs.lease import new_owner_id, owner_is_dead
from reelforge.jobs.job import Job, JobKind, JobStatus
from reelforge.jobs.store import JobStore, LeaseLost

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], Awaitable[None]]
ChangeListener = Callable[[Job], None]
#: Clears a job's leftovers (temp files of a killed render or download); given the job id.
Tidy = Callable[[str], None]


class JobContext:
    """What a handler sees: its job, checkpoints, progress, and child jobs."""

    def __init__(self, runner: Runner, job_id: str, *, resumed: bool) -> None:
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
        fields: dict[str, Any] = {"stage": stage}
        if fraction is not None and not math.isnan(fraction):
            current = self.job.progress or 0.0
            done = max(current, min(1.0, max(0.0, fraction)))
            fields["progress"] = done
            if done >= 0.05:  # an honest ETA from the observed rate, once there is one
                elapsed = time.monotonic() - self._started
                fields["eta_s"] = round(elapsed / done * (1.0 - done), 1)
        self.update(**fields)

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


class Runner:
    def __init__(self, store: JobStore, handlers: dict[JobKind, Handler], *, resume: bool = True,
                 lease_s: float = 30.0, tidy: Tidy | None = None) -> None:
        self.store = store
        self.handlers = handlers
        #: Resume and take over unfinished jobs no live process drives (servers do; the CLI does not).
        self.resume = resume
        self.lease_s = lease_s
        self.owner = new_owner_id()
        self.tidy = tidy
        self.listeners: list[ChangeListener] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self._scopes: dict[str, tuple[anyio.CancelScope, JobContext]] = {}
        self._changed: dict[str, anyio.Event] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; resumes unfinished jobs no live process drives first."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                if self.resume:
                    self._take_over()
                tg.start_soon(self._keep_leases, name="job leases")
                task_status.started()
                try:
                    await anyio.sleep_forever()
                finally:
                    self._tg = None
        finally:
            try:  # a clean stop hands its jobs on at once instead of after the lease
                self.store.release(self.owner)
            except Exception:
                log.warning("could not release job leases at shutdown; they lapse in %.0f s", self.lease_s)

    def lease_fields(self) -> dict[str, Any]:
        """Lease columns for a row this runner will drive (set at insert: no other server may take it)."""
        return {"lease_owner": self.owner, "lease_until": time.time() + self.lease_s}

    def start(self, job_id: str) -> None:
        if self._tg is None:
            raise RuntimeError("runner is not serving")
        if job_id not in self._scopes and self.store.claim(job_id, self.owner, time.time() + self.lease_s):
            self._spawn(job_id, resumed=False)

    # -- leases ---------------------------------------------------------------------------------
    async def _keep_leases(self) -> None:
        """Every third of a lease: renew ours, stop work lost to another process, take over orphans."""
        while True:
            await anyio.sleep(self.lease_s / 3)
            try:
                held = self.store.renew(self.owner, time.time() + self.lease_s, list(self._scopes))
                self._stop_lost(held)
                if self.resume:
                    self._take_over()
            except Exception as exc:  # e.g. the ledger stayed busy: try again next round
                log.warning("job lease upkeep failed (%s); retrying", type(exc).__name__)

    def _stop_lost(self, held: set[str]) -> None:
        for job_id, (scope, ctx) in list(self._scopes.items()):
            if job_id in held:
                continue
            job = self.store.get(job_id)
            if job is None or (job.status.terminal and job.status is not JobStatus.CANCELED):
                continue  # ended here a moment ago; its task is on its way out
            if job.status is JobStatus.CANCELED:  # cancel_job in another process: cancel at the provider too
                ctx.cancel_requested = True
            else:
                ctx.lease_lost = True
                log.warning("job %s is driven by another process now; stopping it here", job_id)
            scope.cancel()

    def _take_over(self) -> None:
        """Claim and resume every unfinished job whose lease is free, lapsed, or held by a dead process."""
        now = time.time()
        for job_id, owner, until in self.store.leases():
            if self._tg is None:
                return
            if job_id in self._scopes or owner == self.owner:
                continue
            lapsed = owner is None or until is None or until < now
            dead = not lapsed and owner is not None and owner_is_dead(owner)
            if not (lapsed or dead):
                continue
            if not self.store.claim(job_id, self.owner, now + self.lease_s, take_from=owner if dead else None):
                continue  # another server was quicker
            job = self.store.require(job_id)
            log.info("resuming job %s (%s, %s)", job_id, job.kind, job.status.value)
            if owner is not None:  # its process stopped without handing it on
                note = "The server process driving this job stopped; another one took it over and resumed it."
                if note not in job.notes:
                    self.store.update(job_id, notes=[*job.notes, note])
            self._spawn(job_id, resumed=True)

    def is_active(self, job_id: str) -> bool:
        return job_id in self._scopes

    def _spawn(self, job_id: str, *, resumed: bool) -> None:
        assert self._tg is not None
        ctx = JobContext(self, job_id, resumed=resumed)
        scope = anyio.CancelScope()
        self._scopes[job_id] = (scope, ctx)
        self._tg.start_soon(self._drive, ctx, scope, name=f"job {job_id}")

    async def _drive(self, ctx: JobContext, scope: anyio.CancelScope) -> None:
        job = ctx.job
        handler = self.handlers[job.kind]
        if ctx.resumed:
            self._tidy(ctx.job_id)  # temp files of the process that died with this job are garbage
        try:
            with scope:
                await handler(ctx)
            if ctx.cancel_requested:
                self._finish(ctx, JobStatus.CANCELED, Canceled("Canceled by request."))
        except ReelforgeError as exc:
            if ctx.cancel_requested:  # e.g. ffmpeg killed by the cancel raised its own error on the way out
                self._finish(ctx, JobStatus.CANCELED, Canceled("Canceled by request."))
            else:
                status = {"outcome_unknown": JobStatus.UNKNOWN, "canceled": JobStatus.CANCELED}.get(
                    exc.code, JobStatus.FAILED)  # e.g. canceled at the provider's own dashboard
                self._finish(ctx, status, exc)
        except anyio.get_cancelled_exc_class():
            # Server shutdown: leave the row as it is so the next start resumes it.
            raise
        except Exception as exc:  # a bug: keep the traceback in the log, show a safe message
            log.exception("job %s crashed", ctx.job_id)
            if ctx.cancel_requested:
                self._finish(ctx, JobStatus.CANCELED, Canceled("Canceled by request."))
            else:
                self._finish(ctx, JobStatus.FAILED, explain(exc)  # disk full, read-only home: say so
                             or ReelforgeError(f"Internal error ({type(exc).__name__}); see the server log."))
        finally:
            self._scopes.pop(ctx.job_id, None)
            if not ctx.lease_lost and self._ended(ctx.job_id):
                self._tidy(ctx.job_id)

    def _ended(self, job_id: str) -> bool:
        try:
            job = self.store.get(job_id)
        except Exception:  # the ledger is closing under a shutdown
            return False
        return job is not None and job.status.terminal

    def _tidy(self, job_id: str) -> None:
        if self.tidy is None:
            return
        try:
            self.tidy(job_id)
        except OSError as exc:  # leftovers are untidy, never a reason to fail a job
            log.warning("could not clear temp files of job %s: %s", job_id, exc)

    def _finish(self, ctx: JobContext, status: JobStatus, exc: ReelforgeError) -> None:
        if ctx.lease_lost:
            return  # another process drives it now; its outcome is the job's
        current = self.store.require(ctx.job_id)
        if current.status.terminal:
            return
        try:
            ctx.update(status=status, error_code=exc.code, error_message=str(exc), stage=status.value)
        except LeaseLost:  # taken over meanwhile: the new driver decides; never let this stop the runner
            log.warning("job %s ended here (%s) after another process took it over", ctx.job_id, exc.code)

    # -- control ------------------------------------------------------------------------------
    def stop(self, job_id: str) -> None:
        """Cancel the work driving `job_id` in this process, if any (it unwinds at its next await)."""
        entry = self._scopes.get(job_id)
        if entry is not None:
            entry[0].cancel()

    async def cancel(self, job_id: str) -> Job:
        """Stop a job: its handler unwinds (remote cancel, ffmpeg kill) and the row says canceled."""
        job = self.store.require(job_id)
        if job.status.terminal:
            return job
        entry = self._scopes.get(job_id)
        if entry is None:
            # Driven by another live process: its lease upkeep sees the row ended and stops the work.
            job = self.store.update(job_id, status=JobStatus.CANCELED, error_code="canceled",
                                    error_message="Canceled by request.", stage="canceled")
            self.notify(job)
            driven = job.lease_owner is not None and (job.lease_until or 0) > time.time() \
                and not owner_is_dead(job.lease_owner)
            if not driven:
                self._tidy(job_id)  # an abandoned job's folder keeps only what is final
            return job
        scope, ctx = entry
        ctx.cancel_requested = True
        scope.cancel()
        with anyio.move_on_after(30):
            while job_id in self._scopes:
                await self.wait_change(job_id, timeout=0.5)
        return self.store.require(job_id)

    # -- change events ------------------------------------------------------------------------
    def notify(self, job: Job) -> None:
        event = self._changed.pop(job.id, None)
        if event is not None:
            event.set()
        for listener in self.listeners:
            try:
                listener(job)
            except Exception:  # a listener must never break a job
                log.exception("job listener failed")

    async def wait_change(self, job_id: str, timeout: float) -> bool:
        """Wait until the job's row changes or the timeout passes; True on a change."""
        event = self._changed.setdefault(job_id, anyio.Event())
        with anyio.move_on_after(timeout):
            await event.wait()
            return True
        return False
