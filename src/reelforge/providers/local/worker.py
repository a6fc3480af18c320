"""The single GPU worker: one thread, a FIFO queue, one resident pipeline at a time.

Why one thread: a GPU runs one video model well at a time, and two 14B models do not fit side
by side. The thread owns the loaded pipeline (LRU of one: switching models frees the old one
first); PyTorch releases the GIL inside kernels, so the event loop stays responsive meanwhile.

The async side (`run_job`) enqueues a job and relays its progress. Cancellation arrives as anyio
cancellation of the awaiting task: a job still in the queue is withdrawn at once; a running job
gets its `threading.Event` set, which the step callback turns into an exception within one
denoising step, and the awaiting side then waits (shielded, bounded by `STOP_WAIT_S`) until the
worker has actually stopped and freed memory, so a cancelled render never overlaps the next one
on the GPU.

torch is not imported here. The worker is handed a loader for its job body (the local provider
passes one that imports `execute`, and with it torch and diffusers); the loader runs in the worker
thread on the first job, so importing this module (and starting the server) stays light, and this
module never imports the body that drives it (no import cycle).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from reelforge.errors import Canceled, LocalBackendUnavailable, ReelforgeError
from reelforge.providers.base import ProgressFn
from reelforge.providers.local.options import LocalOptions
from reelforge.providers.local.plan import RenderPlan

log = logging.getLogger(__name__)

#: Longest the awaiting side waits for a cancelled job to reach its next step (one Wan-14B 720p
#: step with CFG takes about 25 s on an H100).
STOP_WAIT_S = 120.0
#: How often the awaiting side looks for progress events and for the end of a job.
POLL_S = 0.02
_DONE = object()


@dataclass(eq=False)
class GpuJob:
    plan: RenderPlan
    dest: Path
    options: LocalOptions
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Set by the worker when the job has left the GPU (finished, failed, cancelled, memory freed).
    finished: threading.Event = field(default_factory=threading.Event)
    error: ReelforgeError | None = None
    #: Receives (fraction, stage) and finally _DONE from the worker thread; must never block.
    sink: Callable[[object], None] = lambda item: None


#: What the worker runs for each job: (worker, job, report(fraction, stage)).
JobBody = Callable[["GpuWorker", GpuJob, Callable[[float, str], None]], None]


class GpuWorker:
    """FIFO of GpuJobs served by one daemon thread holding at most one loaded pipeline."""

    def __init__(self, load_body: Callable[[], JobBody]) -> None:
        self._load_body = load_body
        self._body: JobBody | None = None
        self._queue: deque[GpuJob] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.resident: Any = None  # LoadedPipeline, typed loosely to keep torch out of this module
        self.running: GpuJob | None = None

    def submit(self, job: GpuJob) -> None:
        with self._cond:
            self._queue.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="reelforge-gpu", daemon=True)
                self._thread.start()
            self._cond.notify()

    def withdraw(self, job: GpuJob) -> bool:
        """Remove a job that has not started; False when the worker already took it."""
        with self._cond:
            try:
                self._queue.remove(job)
            except ValueError:
                return False
            return True

    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                job = self._queue.popleft()
                self.running = job
            try:
                self._run_one(job)
            finally:
                self.running = None
                job.finished.set()
                job.sink(_DONE)

    def _run_one(self, job: GpuJob) -> None:
        try:
            # Libraries sometimes print(); on the stdio transport stdout is the MCP wire.
            with contextlib.redirect_stdout(sys.stderr):
                self._execute(job)
        except ReelforgeError as exc:
            job.error = exc
        except Exception as exc:  # noqa: BLE001 - a bug or a library failure: log it, report plainly
            log.exception("local render of %s failed", job.plan.model_id)
            job.error = _library_error(exc)
        finally:
            self._free_memory()

    def _execute(self, job: GpuJob) -> None:
        if job.cancel.is_set():
            raise Canceled("Canceled while queued.")
        if self._body is None:
            _quiet_libraries()
            self._body = self._load_body()
        self._body(self, job, lambda fraction, stage: job.sink((fraction, stage)))

    def release(self) -> None:
        """Drop the resident pipeline (between jobs only) and free its memory."""
        self.resident = None
        self._free_memory()

    def _free_memory(self) -> None:
        pipe = getattr(self.resident, "pipe", None)
        if pipe is not None and hasattr(pipe, "maybe_free_model_hooks"):
            pipe.maybe_free_model_hooks()  # resets offload hooks left armed by an aborted run
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _library_error(exc: Exception) -> ReelforgeError:
    name = exc.__class__.__name__
    if name == "OutOfMemoryError":
        return LocalBackendUnavailable(
            "The GPU ran out of memory during the render.",
            hint="Ask for fewer frames or a smaller size, or set REELFORGE_LOCAL_OFFLOAD=model.",
        )
    # Only the class name: library messages can carry local paths.
    from reelforge.errors import ProviderFailure

    return ProviderFailure(f"The local model failed ({name}); the server log has the details.")


def _quiet_libraries() -> None:
    """Progress bars and info logs off before diffusers/transformers are imported."""
    for name, value in (("DIFFUSERS_VERBOSITY", "error"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1")):
        os.environ.setdefault(name, value)


_worker: GpuWorker | None = None
_worker_lock = threading.Lock()


def gpu_worker(load_body: Callable[[], JobBody] | None = None) -> GpuWorker:
    """The process-wide worker (one GPU queue per server), made on first use with `load_body`."""
    global _worker
    with _worker_lock:
        if _worker is None:
            if load_body is None:
                raise RuntimeError("the GPU worker has not been started by the local provider yet")
            _worker = GpuWorker(load_body)
        return _worker


async def run_job(job: GpuJob, progress: ProgressFn, worker: GpuWorker) -> None:
    """Queue `job`, relay its progress, and return when the clip is written (or raise its error)."""
    # The worker never waits on the event loop: it drops events into a thread-safe queue that
    # this side drains. A blocking cross-thread call could hang the worker forever if the loop
    # went away mid-job; POLL_S of latency is nothing next to a denoising step.
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    job.sink = events.put
    worker.submit(job)
    ahead = worker.queued() - 1 + (worker.running is not None)
    try:
        await progress(0.0, f"queued behind {ahead} local job(s)" if ahead else "starting")
        while (item := await _next_event(events)) is not _DONE:
            fraction, stage = item  # type: ignore[misc]
            await progress(fraction, stage)
    except BaseException:  # cancellation, or a failing progress sink: stop the GPU either way
        await _stop(job, worker)
        raise
    if job.error is not None:
        raise job.error


async def _next_event(events: queue.SimpleQueue[object]) -> object:
    while True:
        try:
            return events.get_nowait()
        except queue.Empty:
            await anyio.sleep(POLL_S)


async def _stop(job: GpuJob, worker: GpuWorker) -> None:
    """Withdraw a queued job, or stop a running one and wait until the worker has let go of it."""
    job.cancel.set()
    if worker.withdraw(job):
        return
    with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_WAIT_S) as scope:
        while not job.finished.is_set():
            await anyio.sleep(POLL_S)
    if scope.cancelled_caught:
        log.warning("local render did not stop within %.0f s of cancel; it stops at its next step", STOP_WAIT_S)
