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

With the durable engine on (the default, `jobs/engine.py`), a job is not spawned directly: it is
submitted as an engine workflow on its queue, and whichever process runs that queue drives it here
(`drive_attempt`), claiming the lease first. Taking over then means giving the job its next engine
attempt on its queue, so only a process that runs that queue (a GPU worker for a GPU render) picks it
up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from reelforge.errors import Canceled, ReelforgeError, explain
from reelforge.jobs.context import ChildJobFailed, JobContext
from reelforge.jobs.lease import new_owner_id, owner_is_dead
from reelforge.jobs.job import Job, JobKind, JobStatus
from reelforge.jobs.store import JobStore, LeaseLost
from reelforge.settings import Settings

if TYPE_CHECKING:
    from reelforge.jobs.engine import Engine

log = logging.getLogger(__name__)
__all__ = ["ChildJobFailed", "Handler", "JobContext", "Runner"]

Handler = Callable[[JobContext], Awaitable[None]]
#: How often a wait re-reads a job driven by another process (one row read; cheap on either database).
WATCH_S = 0.25
ChangeListener = Callable[[Job], None]
#: Clears a job's leftovers (temp files of a killed render or download); given the job id.
Tidy = Callable[[str], None]


class Runner:
    def __init__(self, store: JobStore, handlers: dict[JobKind, Handler], *, resume: bool = True,
                 lease_s: float = 30.0, tidy: Tidy | None = None, engine: Settings | None = None,
                 rate_defaults: dict[str, tuple[int, float]] | None = None) -> None:
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
        #: The settings the durable engine starts from; None runs jobs on leases alone.
        self._engine_settings = engine if engine is not None and engine.engine == "dbos" else None
        #: Rate limits per 'provider/model' from the catalog, used where the operator set none.
        self._rate_defaults = rate_defaults or {}
        self.engine: Engine | None = None
        #: The loop this runner drives jobs on (engine steps run on DBOS's thread and hand over to it).
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ends: dict[str, anyio.Event] = {}
        self._swept = 0.0

    # -- lifecycle ----------------------------------------------------------------------------
    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; resumes unfinished jobs no live process drives first."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                if self._engine_settings is not None:
                    await self._start_engine(self._engine_settings)
                if self.resume:
                    await self._take_over()
                tg.start_soon(self._keep_leases, name="job leases")
                task_status.started()
                try:
                    await anyio.sleep_forever()
                finally:
                    self._tg = None
        finally:
            if self.engine is not None:
                from reelforge.jobs import engine

                engine.detach(self)
            try:  # a clean stop hands its jobs on at once instead of after the lease
                self.store.release(self.owner)
            except Exception:
                log.warning("could not release job leases at shutdown; they lapse in %.0f s", self.lease_s)

    async def _start_engine(self, settings: Settings) -> None:
        from reelforge.jobs import engine  # dbos loads here, after the handshake, never at import

        self.loop = asyncio.get_running_loop()
        self.engine = await engine.start_engine(settings, anyio.to_thread.run_sync, self._rate_defaults)
        engine.attach(self)

    def lease_fields(self) -> dict[str, Any]:
        """Lease columns for a new row. Without the engine this runner drives it (no other server may take
        it); with it, whichever process runs its queue claims it, and the lease end only says how long
        the supervisors leave a fresh job alone."""
        return {"lease_owner": None if self.engine else self.owner, "lease_until": time.time() + self.lease_s}

    def start(self, job_id: str, *, again: bool = False) -> None:
        """Start a job just committed, or `again` one that ended (a failed download fetched anew)."""
        if self._tg is None:
            raise RuntimeError("runner is not serving")
        if self.engine is not None:
            if job_id not in self._scopes:
                self._tg.start_soon(self._submit, job_id, again, name=f"submit {job_id}")
        elif job_id not in self._scopes and self.store.claim(job_id, self.owner, time.time() + self.lease_s):
            self._spawn(job_id, resumed=False)

    def queue_of(self, job: Job) -> str:
        from reelforge.jobs.engine import queue_for

        assert self.engine is not None
        # A provider's rate limit spaces out creates: a job whose remote job already exists (taken over,
        # or fetched again) only polls and downloads, so its next attempt takes no slot of the limit.
        limits = self.engine.limits if job.remote_id is None else {}
        return queue_for(job.kind, job.provider, limits, job.model)

    async def _submit(self, job_id: str, again: bool) -> None:
        assert self.engine is not None
        queue = self.queue_of(self.store.require(job_id))
        try:
            # A runner that takes over nothing (the command line) runs its own jobs at once.
            if again:
                await self.engine.submit_next(self, job_id, queue, direct=not self.resume)
            else:  # a new job's first attempt: its id makes a repeated submit harmless
                await self.engine.submit(self, job_id, queue, direct=not self.resume)
        except Exception as exc:  # the supervisors submit it again once its fresh-job lease lapses
            log.warning("could not submit job %s to the engine (%s); it is retried", job_id, type(exc).__name__)

    async def drive_attempt(self, job_id: str, attempt: int) -> str:
        """An engine step: claim the job's lease and drive it here until it ends or this runner stops.
        Returns what became of it (the workflow's result, for operators reading the engine's table)."""
        if job_id not in self._scopes:
            job = self.store.get(job_id)
            if job is None or job.status.terminal:
                return "ended"
            if self._tg is None:
                return "stopped"
            prior = job.lease_owner
            taken = prior is not None and prior != self.owner
            if not self.store.claim(job_id, self.owner, time.time() + self.lease_s,
                                    take_from=prior if taken and owner_is_dead(prior) else None):
                return "held"  # a live process drives it
            if taken:
                self._note_take_over(job)
            self._spawn(job_id, resumed=attempt > 1 or taken)
        end = self._ends.get(job_id)
        if end is not None:
            await end.wait()
        job = self.store.get(job_id)
        return job.status.value if job is not None else "gone"

    def _note_take_over(self, job: Job) -> None:
        log.info("resuming job %s (%s, %s)", job.id, job.kind, job.status.value)
        note = "The server process driving this job stopped; another one took it over and resumed it."
        if note not in job.notes:
            self.store.update(job.id, notes=[*job.notes, note])

    # -- leases ---------------------------------------------------------------------------------
    async def _keep_leases(self) -> None:
        """Every third of a lease: renew ours, stop work lost to another process, take over orphans."""
        while True:
            await anyio.sleep(self.lease_s / 3)
            try:
                held = self.store.renew(self.owner, time.time() + self.lease_s, list(self._scopes))
                self._stop_lost(held)
                if self.resume:
                    await self._take_over()
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

    async def _take_over(self) -> None:
        """Resume every unfinished job whose lease is free, lapsed, or held by a dead process: claimed and
        spawned here, or with the engine, its next attempt submitted on its queue."""
        if self.engine is not None:
            await self._hand_over()
            return
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
            if owner is not None:  # its process stopped without handing it on
                self._note_take_over(job)
            self._spawn(job_id, resumed=True)

    async def _hand_over(self) -> None:
        assert self.engine is not None
        now = time.time()
        orphans = [job_id for job_id, owner, until in self.store.leases()
                   if job_id not in self._scopes and owner != self.owner
                   and (until is None or until < now or (owner is not None and owner_is_dead(owner)))]
        jobs = [job for job in map(self.store.get, orphans) if job is not None]
        if jobs:
            handed = await self.engine.hand_over(self, [(job.id, self.queue_of(job)) for job in jobs])
            if handed:
                log.info("handed %d job(s) whose driver stopped to the engine: %s", len(handed), ", ".join(handed))
        if self.resume and now - self._swept > 3600:  # engine records of long-finished jobs
            self._swept = now
            await self.engine.sweep(self._engine_settings.engine_retention_days if self._engine_settings else 7.0)

    def holds_ledger_of(self, job_id: str) -> bool:
        return self.store.get(job_id) is not None

    def is_active(self, job_id: str) -> bool:
        return job_id in self._scopes

    def _spawn(self, job_id: str, *, resumed: bool) -> None:
        assert self._tg is not None
        ctx = JobContext(self, job_id, resumed=resumed)
        scope = anyio.CancelScope()
        self._scopes[job_id] = (scope, ctx)
        self._ends[job_id] = anyio.Event()
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
            end = self._ends.pop(ctx.job_id, None)
            if end is not None:
                end.set()
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
            if self.engine is not None:
                await self.engine.forget(job_id)
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
        """Wait until the job's row changes or the timeout passes; True on a change.

        Changes made here arrive as events; a job driven by another process (a worker, a replica)
        changes only in the ledger, so the wait is cut to `WATCH_S` and the caller reads the row again."""
        if job_id not in self._scopes:
            timeout = min(timeout, WATCH_S)
        event = self._changed.setdefault(job_id, anyio.Event())
        with anyio.move_on_after(timeout):
            await event.wait()
            return True
        return False
