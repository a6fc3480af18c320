"""The poll loop: reading a remote job's status until it ends, at a pace the provider can bear.

The policy is data (`PollPolicy`: the model's catalog entry within the settings' bounds): the
shortest and longest pause between reads, growing 1.5× per read but never past 20 % of the time the
job has run (a finished job is noticed within a fifth of its run time), with ±10 % jitter (many jobs
polled together do not march in step), the provider's own `Retry-After` honoured, and a total budget after
which the job is given up as a timeout (it may still finish at the provider: the message says so). A failed status read never
ends the job while the budget lasts: the remote job is still running, and billed, whatever one
read says.

The loop knows nothing about providers: it is handed a `read` coroutine and reads the few fields
every status carries (`PollStatus`).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio

from reelforge.errors import ProviderTimeout, ReelforgeError
from reelforge.jobs.job import JobStatus

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.jobs.context import JobContext
    from reelforge.settings import Settings


class _State(Protocol):
    @property
    def terminal(self) -> bool: ...

    @property
    def value(self) -> str: ...


class PollStatus(Protocol):
    """What the loop reads from one status answer."""

    @property
    def state(self) -> _State: ...

    progress: float | None
    raw_status: str | None
    poll_after: float | None


S = TypeVar("S", bound=PollStatus)
#: The longest pause between reads, as a fraction of the time the job has been running.
OVERSHOOT = 0.2


@dataclass(frozen=True)
class PollPolicy:
    min_interval_s: float
    max_interval_s: float
    max_seconds: float

    @classmethod
    def for_model(cls, settings: Settings, model: ModelEntry) -> PollPolicy:
        """The model's own wait budget and pace (catalog data), the pace kept within the settings' bounds."""
        pace = settings.poll_min_interval_s if model.poll_interval_s is None else \
            min(max(model.poll_interval_s, settings.poll_min_interval_s), settings.poll_max_interval_s)
        return cls(pace, settings.poll_max_interval_s, model.max_poll_seconds or settings.max_poll_seconds)


async def poll_until_done(read: Callable[[], Awaitable[S]], ctx: JobContext, policy: PollPolicy, *,
                          where: str, remote_id: str, first_eta_s: float) -> S:
    """Read until the status is terminal; report the stage, the provider's progress and an ETA."""
    interval = policy.min_interval_s
    started = anyio.current_time()
    shown = ctx.job.progress  # kept from each write below: one ledger write per read, no re-reads
    while True:
        try:
            status = await read()
        except ReelforgeError as exc:
            if not exc.retryable or anyio.current_time() - started > policy.max_seconds:
                raise
            wait = max(getattr(exc, "retry_after", None) or 0.0, interval)
            ctx.update(stage=f"status read failed ({exc.code}); retrying in {wait:.0f} s")
            await anyio.sleep(wait)
            interval = min(interval * 1.5, policy.max_interval_s)
            continue
        if status.state.terminal:
            return status
        stage = f"{status.raw_status or status.state.value} at {where}"
        elapsed = anyio.current_time() - started
        fields: dict[str, Any] = {"status": JobStatus.RUNNING, "stage": stage,
                                  "eta_s": max(0.0, first_eta_s - elapsed)}
        fields.update(ctx.progress_fields(status.progress, shown))  # the provider's figure wins the ETA
        shown = ctx.update(**fields).progress
        if elapsed > policy.max_seconds:
            raise ProviderTimeout(
                f"{where} job {remote_id} did not finish within {policy.max_seconds:.0f} s.",
                hint="It may still finish at the provider; check its dashboard.")
        # Never wait longer than OVERSHOOT of the time the job has run: a job noticed late is time the
        # user waits for nothing (the plain 1.5x growth read a 5 s job at 0, 2, 5, 9.5 s and so
        # finished it at 9.5 s half the time). The provider's Retry-After still wins.
        pause = min(interval, max(policy.min_interval_s, OVERSHOOT * elapsed))
        await anyio.sleep(max(status.poll_after or 0.0, pause) * random.uniform(0.9, 1.1))
        interval = min(interval * 1.5, policy.max_interval_s)
