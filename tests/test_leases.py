"""Job leases between runners sharing one ledger (issue 8, item 2), with real runners on real SQLite and
PostgreSQL (the `ledger` fixture runs each test on both).

The two-process kill tests are in test_takeover.py; these cover what a SIGKILL on one host cannot
show: an owner we cannot check (another host) keeps its job until the lease lapses, then loses it
within the bound; a runner whose lease was taken stops and writes nothing; a cancel recorded by
another process stops the work where it runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from reelforge.errors import ReelforgeError
from reelforge.jobs.lease import new_owner_id, owner_is_dead
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import JobContext, Runner
from reelforge.jobs.store import JobStore

LEASE_S = 0.6
OTHER_HOST = "another-host|pid:[1]/4242/123456/abcd1234"


async def _serving(runner: Runner, body) -> None:
    async with anyio.create_task_group() as tg:
        await tg.start(runner.serve)
        await body()
        tg.cancel_scope.cancel()


def test_owner_ids_tell_dead_from_unknown() -> None:
    me = new_owner_id()
    assert not owner_is_dead(me)
    assert not owner_is_dead(OTHER_HOST), "a process on another host cannot be checked: never presumed dead"
    host, pid, started, _ = me.split("/")
    assert owner_is_dead(f"{host}/{pid}/{int(started) + 1}/x"), "a reused pid is another process"
    assert owner_is_dead(f"{host}/{2**22 + 7}/1/x"), "a pid that does not exist"


@pytest.mark.slow
async def test_an_uncheckable_owner_keeps_its_job_until_the_lease_lapses(ledger: Path | str) -> None:
    store = JobStore(ledger)
    held_until = time.time() + 1.5
    job = store.insert(Job(kind="generate", status=JobStatus.RUNNING, lease_owner=OTHER_HOST, lease_until=held_until))
    resumed_at: list[float] = []

    async def handler(ctx: JobContext) -> None:
        resumed_at.append(time.time())
        ctx.update(status=JobStatus.SUCCEEDED)

    runner = Runner(store, {"generate": handler}, lease_s=LEASE_S)

    async def body() -> None:
        with anyio.fail_after(10):
            while not store.require(job.id).status.terminal:
                await anyio.sleep(0.02)

    await _serving(runner, body)
    assert resumed_at and resumed_at[0] >= held_until, "took a job whose lease still held"
    late = resumed_at[0] - held_until
    assert late <= LEASE_S / 3 + 0.5, f"taken over {late:.2f} s after the lease lapsed"
    assert any("took it over" in n for n in store.require(job.id).notes)


async def test_a_runner_that_lost_its_lease_stops_and_writes_nothing(ledger: Path | str) -> None:
    store = JobStore(ledger)
    started, stopped = anyio.Event(), anyio.Event()

    async def handler(ctx: JobContext) -> None:
        ctx.update(status=JobStatus.RUNNING, stage="working")
        started.set()
        try:
            await anyio.sleep(60)
        finally:
            stopped.set()

    runner = Runner(store, {"generate": handler}, lease_s=LEASE_S)
    job = store.insert(Job(kind="generate"))

    async def body() -> None:
        runner.start(job.id)
        await started.wait()
        # Another server took the job over (as after this one stalled past its lease).
        store.update(job.id, lease_owner=OTHER_HOST, lease_until=time.time() + 60, stage="taken over")
        with anyio.fail_after(LEASE_S / 3 + 2):
            await stopped.wait()
        await anyio.sleep(0.1)

    await _serving(runner, body)
    row = store.require(job.id)
    assert row.status is JobStatus.RUNNING and row.stage == "taken over" and row.lease_owner == OTHER_HOST


async def test_a_cancel_recorded_by_another_process_stops_the_work_where_it_runs(ledger: Path | str) -> None:
    store = JobStore(ledger)
    other = JobStore(ledger)
    started, canceled_here = anyio.Event(), anyio.Event()

    async def handler(ctx: JobContext) -> None:
        ctx.update(status=JobStatus.RUNNING)
        started.set()
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            if ctx.cancel_requested:  # what lets a remote handler cancel at the provider
                canceled_here.set()
            raise

    driver = Runner(store, {"generate": handler}, lease_s=LEASE_S)
    bystander = Runner(other, {"generate": handler}, lease_s=LEASE_S, resume=False)
    job = store.insert(Job(kind="generate"))

    async def body() -> None:
        driver.start(job.id)
        await started.wait()
        await bystander.cancel(job.id)  # not driven there: it only records the cancel
        with anyio.fail_after(LEASE_S / 3 + 2):
            await canceled_here.wait()

    await _serving(driver, body)
    assert store.require(job.id).status is JobStatus.CANCELED


async def test_writes_are_fenced_by_the_lease(ledger: Path | str) -> None:
    """A stalled runner whose job was taken over cannot overwrite the new driver's row, even before its
    lease upkeep notices (e.g. a create request that returns after the take-over ended the job)."""
    store = JobStore(ledger)
    taken, done = anyio.Event(), anyio.Event()

    async def handler(ctx: JobContext) -> None:
        ctx.update(status=JobStatus.SUBMITTING)
        await taken.wait()
        try:
            ctx.update(remote_id="r-late", status=JobStatus.RUNNING)  # the stalled submit comes back
        finally:
            done.set()

    runner = Runner(store, {"generate": handler}, lease_s=60)  # upkeep will not run during the test
    job = store.insert(Job(kind="generate"))

    async def body() -> None:
        runner.start(job.id)
        with anyio.fail_after(5):
            while store.require(job.id).status is not JobStatus.SUBMITTING:
                await anyio.sleep(0.01)
        store.update(job.id, lease_owner=OTHER_HOST, lease_until=time.time() + 60, status=JobStatus.UNKNOWN,
                     error_code="outcome_unknown")  # the new driver's verdict
        taken.set()
        with anyio.fail_after(5):
            await done.wait()
        await anyio.sleep(0.05)

    await _serving(runner, body)
    row = store.require(job.id)
    assert (row.status, row.remote_id, row.error_code) == (JobStatus.UNKNOWN, None, "outcome_unknown")


async def test_a_cancel_recorded_by_another_process_is_not_undone_by_the_driver(ledger: Path | str) -> None:
    """The driver's next progress write must not flip a canceled row back to running."""
    store_a, store_b = JobStore(ledger), JobStore(ledger)
    polls: list[int] = []

    async def handler(ctx: JobContext) -> None:
        for i in range(100):
            ctx.update(status=JobStatus.RUNNING, stage=f"poll {i}")
            polls.append(i)
            await anyio.sleep(0.02)
        ctx.update(status=JobStatus.SUCCEEDED, stage="done")

    runner_a = Runner(store_a, {"generate": handler}, lease_s=30.0)  # upkeep far away: only the fence can save it
    runner_b = Runner(store_b, {"generate": handler}, lease_s=30.0)
    async with anyio.create_task_group() as tg:
        await tg.start(runner_a.serve)
        await tg.start(runner_b.serve)
        job = store_a.insert(Job(kind="generate", **runner_a.lease_fields()))
        runner_a.start(job.id)
        await anyio.sleep(0.2)
        assert (await runner_b.cancel(job.id)).status is JobStatus.CANCELED
        with anyio.fail_after(5):
            while runner_a.is_active(job.id):
                await anyio.sleep(0.02)
        tg.cancel_scope.cancel()
    assert store_a.require(job.id).status is JobStatus.CANCELED
    assert len(polls) < 100, "the driver kept working after the cancel"


@pytest.mark.slow
async def test_a_lease_lost_while_a_job_fails_does_not_stop_the_runner(ledger: Path | str) -> None:
    """A handler failing after its lease was taken ends quietly; the runner and its other jobs go on."""
    store = JobStore(ledger)

    async def failing(ctx: JobContext) -> None:
        await anyio.sleep(0.3)
        raise ReelforgeError("provider says failed")

    async def steady(ctx: JobContext) -> None:
        await anyio.sleep(1.0)
        ctx.update(status=JobStatus.SUCCEEDED)

    runner = Runner(store, {"generate": failing, "loop": steady}, lease_s=30.0)
    async with anyio.create_task_group() as tg:
        await tg.start(runner.serve)
        other = store.insert(Job(kind="loop", **runner.lease_fields()))
        runner.start(other.id)
        job = store.insert(Job(kind="generate", **runner.lease_fields()))
        runner.start(job.id)
        await anyio.sleep(0.1)
        store.update(job.id, lease_owner=OTHER_HOST, lease_until=time.time() + 30)  # taken by another host
        with anyio.fail_after(5):
            while not store.require(other.id).status.terminal:
                await anyio.sleep(0.02)
        tg.cancel_scope.cancel()
    assert store.require(other.id).status is JobStatus.SUCCEEDED
    assert not store.require(job.id).status.terminal, "the new driver decides this job's outcome"


def test_owner_ids_name_the_boot_so_same_named_machines_differ() -> None:
    """The initial PID namespace has the same id on every Linux host: the boot id tells two apart."""
    boot = Path("/proc/sys/kernel/random/boot_id")
    if not boot.exists():
        pytest.skip("no /proc boot id on this system")
    host = new_owner_id().split("/")[0]
    assert boot.read_text().strip() in host
    name, namespace = host.split("|")[:2]
    assert not owner_is_dead(f"{name}|{namespace}|another-boot/{2**22 + 7}/1/x"), "another machine's pid"
