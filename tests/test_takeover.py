"""Two real servers on one home: when either is SIGKILLed mid-job, the live one takes its jobs over
within a bounded time (the job lease) and finishes them; a job caught mid-create ends `unknown` and
its create request is never sent again (issue 8, item 2). Both tests run on the SQLite ledger and on
PostgreSQL (issue 10, item 2): the `ledger` fixture, handed to the servers by their environment."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from provider_utils import needs_providers
from emulators.runway import RunwayEmulator
from mcp import Client, StdioServerParameters

import reelforge
from reelforge.jobs.lease import owner_pid
from reelforge.jobs.store import JobStore
from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client

LEASE_S = 2.0
#: The lease lapses, then the next scan (every third of a lease) claims it; the slack covers a busy
#: two-core machine. A dead process on the same host is usually recognised sooner.
BOUND_S = LEASE_S * 4 / 3 + 3.0
#: Long enough on the preview renderer (about 10 s here) to be mid-render when the kill lands.
RENDER = {"prompt": "take me over", "provider": "preview", "duration_s": 30, "resolution": "720p", "fps": 30,
          "wait_seconds": 0}
PAID = {"provider": "runway", "model": "gen4.5", "prompt": "a kite", "duration_s": 2, "wait_seconds": 0}


def _env(home: Path, root: Path, extra: dict[str, str]) -> dict[str, str]:
    return {"REELFORGE_HOME": str(home), "REELFORGE_ALLOWED_INPUT_ROOTS": str(root), "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(root)), "REELFORGE_JOB_LEASE_S": str(LEASE_S),
            "PYTHONPATH": str(Path(reelforge.__file__).parents[1]),  # the servers run the code under test
            "REELFORGE_POLL_MIN_INTERVAL_S": "0.02", "REELFORGE_POLL_MAX_INTERVAL_S": "0.1", **extra}


@asynccontextmanager
async def real_server(home: Path, root: Path, name: str, extra: dict[str, str] | None = None
                      ) -> AsyncIterator[tuple[Client, int]]:
    """A `reelforge serve` subprocess that writes its own pid first, so the test kills exactly it."""
    pid_file = root / f"{name}.pid"
    boot = f"import os, sys; open({str(pid_file)!r}, 'w').write(str(os.getpid())); " \
           "sys.argv = ['reelforge', 'serve']; from reelforge.cli import main; main()"
    params = StdioServerParameters(command=sys.executable, args=["-c", boot], env=_env(home, root, extra or {}),
                                   cwd=str(root))
    async with Client(params) as client:
        await client.list_tools()  # started and serving
        yield client, int(pid_file.read_text())


async def _until(predicate, timeout: float, what: str) -> float:
    """Wait until `predicate()` holds; returns the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.1f} s")
        await anyio.sleep(0.05)
    return time.monotonic() - started


def _driver_pid(store: JobStore, job_id: str) -> int | None:
    job = store.require(job_id)
    return owner_pid(job.lease_owner) if job.lease_owner else None


async def _kill(pid: int) -> float:
    """SIGKILL `pid` and return the time by which it had stopped (gone, or a zombie awaiting its
    parent): whatever the ledger records after that, a live server wrote."""
    os.kill(pid, signal.SIGKILL)
    stat = Path(f"/proc/{pid}/stat")
    with anyio.fail_after(5):
        while True:
            try:
                if stat.read_text().rsplit(")", 1)[1].split()[0] in "ZX":
                    break
            except OSError:
                break
            await anyio.sleep(0.01)
    return time.time()


def _driven_since(store: JobStore, job_id: str, since: float) -> bool:
    """Someone alive moved the job on after `since` (the kill): a newer write, or an end."""
    job = store.require(job_id)
    return job.updated_at > since or (job.finished_at or 0) > since


def _rendering(store: JobStore, home: Path, job_id: str) -> bool:
    job = store.require(job_id)
    return job.status.value == "running" and (job.progress or 0) > 0 and any(
        (home / "outputs" / job_id).glob(".partial-*.mp4"))


def _ledger_env(ledger: Path | str) -> dict[str, str]:
    """The variable that points a server at the shared ledger: a SQLite file, or a PostgreSQL URL."""
    return {"REELFORGE_DATABASE_URL": ledger} if isinstance(ledger, str) else {"REELFORGE_LEDGER_PATH": str(ledger)}


async def _finished(client: Client, job_id: str, seconds: float) -> dict:
    job = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": seconds})).structured_content
    return job


@pytest.mark.slow
@needs_providers("runway")
async def test_killed_non_owner_jobs_are_taken_over_and_never_resubmitted(tmp_path: Path, settings: Settings,
                                                                         ledger: Path | str) -> None:
    home = tmp_path / "home"
    with RunwayEmulator() as emu:
        emu.inject("create", delay_s=3.0)  # the create reached Runway; its answer never gets back
        keys = {"RUNWAYML_API_SECRET": emu.api_key, "RUNWAYML_BASE_URL": emu.url, **_ledger_env(ledger)}
        async with real_server(home, tmp_path, "a", keys) as (a, a_pid):  # the first server started
            store = JobStore(ledger)
            async with real_server(home, tmp_path, "b", keys) as (b, b_pid):
                render = (await b.call_tool("generate_video", {"request": RENDER})).structured_content["job_id"]
                paid = (await b.call_tool("generate_video", {"request": PAID})).structured_content["job_id"]
                await _until(lambda: _rendering(store, home, render) and emu.count("create") == 1, 60, "B mid-job")
                assert store.require(paid).status.value == "submitting" and store.require(paid).remote_id is None
                killed = await _kill(b_pid)
                took = await _until(lambda: _driven_since(store, render, killed) and _driven_since(store, paid, killed),
                                    BOUND_S, "the live server taking B's jobs over")
                assert _driver_pid(store, render) == a_pid and _driver_pid(store, paid) == a_pid
            job = await _finished(a, paid, BOUND_S)
            assert job["status"] == "unknown" and job["error"]["code"] == "outcome_unknown", job
            job = await _finished(a, render, 120)
            assert job["status"] == "succeeded", job
            info = probe(job["output"]["path"])
            assert info.frames == 900 and (info.width, info.height) == (1280, 720)
            await anyio.sleep(3.2)  # let the emulator finish the slow create B handed it
            assert emu.count("create") == 1 and len(emu.jobs) == 1, "a create request was sent again"
            store.close()
    print(f"take-over after SIGKILL of the non-owner: {took:.2f} s (bound {BOUND_S:.1f} s)")


@pytest.mark.slow
async def test_killed_owner_job_is_taken_over_by_the_surviving_server(tmp_path: Path, settings: Settings,
                                                                     ledger: Path | str) -> None:
    home = tmp_path / "home"
    where = {"database_url": ledger} if isinstance(ledger, str) else {"ledger_path": ledger}
    survivor = Settings(home=home, allowed_input_roots=[tmp_path], job_lease_s=LEASE_S, poll_min_interval_s=0.02,
                        **where)
    async with real_server(home, tmp_path, "owner", _ledger_env(ledger)) as (owner, owner_pid_):  # started first
        store = JobStore(ledger)
        async with make_client(survivor) as live:
            render = (await owner.call_tool("generate_video", {"request": RENDER})).structured_content["job_id"]
            await _until(lambda: _rendering(store, home, render), 60, "the owner mid-render")
            killed = await _kill(owner_pid_)
            took = await _until(lambda: _driven_since(store, render, killed), BOUND_S,
                                "the surviving server taking the owner's job over")
            assert _driver_pid(store, render) == os.getpid()
            job = await _finished(live, render, 120)
            assert job["status"] == "succeeded", job
            assert probe(job["output"]["path"]).frames == 900
        store.close()
    print(f"take-over after SIGKILL of the owner: {took:.2f} s (bound {BOUND_S:.1f} s)")
