"""The runner on its own: terminal states, cancel, resume policy, with real handlers of our own."""

from __future__ import annotations

from pathlib import Path

import anyio

from reelforge.errors import OutcomeUnknown, ProviderFailure
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import JobContext, Runner
from reelforge.jobs.store import JobStore


async def _serve(runner: Runner, body) -> None:
    async with anyio.create_task_group() as tg:
        await tg.start(runner.serve)
        await body()
        tg.cancel_scope.cancel()


async def test_failure_unknown_and_success_are_recorded(ledger: Path | str) -> None:
    store = JobStore(ledger)

    async def handler(ctx: JobContext) -> None:
        mode = ctx.job.request["mode"]
        await ctx.progress(0.5, "half")
        if mode == "fail":
            raise ProviderFailure("boom")
        if mode == "unknown":
            raise OutcomeUnknown("maybe billed")
        ctx.update(status=JobStatus.SUCCEEDED)

    runner = Runner(store, {"generate": handler})
    jobs = {m: store.insert(Job(kind="generate", request={"mode": m})) for m in ("fail", "unknown", "ok")}

    async def body() -> None:
        for job in jobs.values():
            runner.start(job.id)
        with anyio.fail_after(5):
            while any(not store.require(j.id).status.terminal for j in jobs.values()):
                await anyio.sleep(0.01)

    await _serve(runner, body)
    assert store.require(jobs["fail"].id).status is JobStatus.FAILED
    assert store.require(jobs["fail"].id).error_code == "provider_failed"
    assert store.require(jobs["unknown"].id).status is JobStatus.UNKNOWN
    assert store.require(jobs["ok"].id).progress == 0.5


async def test_cancel_stops_a_running_handler(ledger: Path | str) -> None:
    store = JobStore(ledger)
    cleaned = anyio.Event()

    async def handler(ctx: JobContext) -> None:
        ctx.update(status=JobStatus.RUNNING)
        try:
            await anyio.sleep(60)
        finally:
            cleaned.set()

    runner = Runner(store, {"generate": handler})
    job = store.insert(Job(kind="generate"))

    async def body() -> None:
        runner.start(job.id)
        while store.require(job.id).status is not JobStatus.RUNNING:
            await anyio.sleep(0.01)
        with anyio.fail_after(5):
            done = await runner.cancel(job.id)
        assert done.status is JobStatus.CANCELED and cleaned.is_set()

    await _serve(runner, body)


async def test_shutdown_leaves_jobs_resumable(ledger: Path | str) -> None:
    store = JobStore(ledger)
    started = anyio.Event()

    async def slow(ctx: JobContext) -> None:
        ctx.update(status=JobStatus.RUNNING)
        started.set()
        await anyio.sleep(60)

    job = store.insert(Job(kind="generate"))
    runner = Runner(store, {"generate": slow})

    async def body() -> None:
        runner.start(job.id)
        await started.wait()

    await _serve(runner, body)  # cancels the task group: a server shutdown
    assert store.require(job.id).status is JobStatus.RUNNING

    resumed: list[bool] = []

    async def finish(ctx: JobContext) -> None:
        resumed.append(ctx.resumed)
        ctx.update(status=JobStatus.SUCCEEDED)

    runner2 = Runner(store, {"generate": finish})

    async def body2() -> None:
        with anyio.fail_after(5):
            while not store.require(job.id).status.terminal:
                await anyio.sleep(0.01)

    await _serve(runner2, body2)
    assert resumed == [True] and store.require(job.id).status is JobStatus.SUCCEEDED
