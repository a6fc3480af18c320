"""The runner: drives every job in one task group owned by the server's lifespan.

On start it resumes each unfinished job from the ledger (a remote job from its stored remote id;
local work from the top, since it is free and deterministic). A job's handler (one per kind,
supplied by the studio) does the work and checkpoints through `JobContext`; the runner owns what
is common: the terminal status, error mapping, cancellation, and change events that drive
progress notifications and `get_job(wait_seconds=...)`.

Shutting the server down cancels the task group but records nothing: unfinished jobs keep their
status and resume on the next start. Only an explicit `cancel_job` marks a job canceled.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from reelforge.errors import Canceled, ReelforgeError, explain
from reelforge.jobs.models import Job, JobKind, JobStatus
from reelforge.jobs.store import JobStore

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], Awaitable[None]]
ChangeListener = Callable[[Job], None]


class JobContext:
    """What a handler sees: its job, checkpoints, progress, and child jobs."""

    def __init__(self, runner: Runner, job_id: str, *, resumed: bool) -> None:
        self.runner = runner
        self.job_id = job_id
        self.resumed = resumed
        self.cancel_requested = False
        self._started = time.monotonic()

    @property
    def store(self) -> JobStore:
        return self.runner.store

    @property
    def job(self) -> Job:
        return self.store.require(self.job_id)

    def update(self, **fields: Any) -> Job:
        job = self.store.update(self.job_id, **fields)
        self.runner.notify(job)
        return job

    def checkpoint(self, **state: Any) -> Job:
        job = self.store.merge_state(self.job_id, **state)
        self.runner.notify(job)
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
    def __init__(self, store: JobStore, handlers: dict[JobKind, Handler], *, resume: bool = True) -> None:
        self.store = store
        self.handlers = handlers
        #: Resume unfinished jobs at start; only the one process that owns the ledger does.
        self.resume = resume
        self.listeners: list[ChangeListener] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self._scopes: dict[str, tuple[anyio.CancelScope, JobContext]] = {}
        self._changed: dict[str, anyio.Event] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; resumes unfinished jobs first."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for job in self.store.unfinished() if self.resume else []:
                log.info("resuming job %s (%s, %s)", job.id, job.kind, job.status.value)
                self._spawn(job.id, resumed=True)
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                self._tg = None

    def start(self, job_id: str) -> None:
        if self._tg is None:
            raise RuntimeError("runner is not serving")
        if job_id not in self._scopes:
            self._spawn(job_id, resumed=False)

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

    def _finish(self, ctx: JobContext, status: JobStatus, exc: ReelforgeError) -> None:
        current = self.store.require(ctx.job_id)
        if current.status.terminal:
            return
        ctx.update(status=status, error_code=exc.code, error_message=str(exc), stage=status.value)

    # -- control ------------------------------------------------------------------------------
    async def cancel(self, job_id: str) -> Job:
        """Stop a job: its handler unwinds (remote cancel, ffmpeg kill) and the row says canceled."""
        job = self.store.require(job_id)
        if job.status.terminal:
            return job
        entry = self._scopes.get(job_id)
        if entry is None:
            job = self.store.update(job_id, status=JobStatus.CANCELED, error_code="canceled",
                                    error_message="Canceled by request.", stage="canceled")
            self.notify(job)
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
