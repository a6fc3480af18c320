"""A team's deployment, for real: two HTTP replicas and a worker on one database, on the durable
engine's queues, with a provider rate limit shared by all three.

100 jobs go in through both replicas while the provider holds them running; then a replica and the
worker are killed with SIGKILL mid-job. Every job still finishes exactly once (one create each at
the emulator), the survivor takes the dead processes' jobs over, the rate limit was never exceeded
across processes, and a user's daily allowance is one allowance whichever replica they reach. The
same suite runs on PostgreSQL and on the embedded default (SQLite files in a shared home)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from http_server_utils import bearer_client, serve_http, start_worker
from mcp import Client
from provider_utils import needs_providers
from test_tiers import ALICE_TOKEN, write_tiers

from reelforge.jobs.store import JobStore
from reelforge.settings import Settings

pytestmark = [pytest.mark.slow, needs_providers("runway")]
OPERATOR = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778"
TERMINAL = {"succeeded", "failed", "canceled", "unknown"}
JOBS = 100
RATE = (30, 4.0)  # Runway jobs started per 4 s, across every process


@pytest.fixture
def emu() -> Iterator[object]:
    from emulators.runway import RunwayEmulator

    with RunwayEmulator() as emulator:
        yield emulator


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """None: the embedded default (SQLite ledger and engine files in the shared home)."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


def _env(tmp_path: Path, database: str | None, emu, tiers: Path) -> dict[str, str]:
    env = {
        "REELFORGE_HOME": str(tmp_path / "home"),  # shared storage, like a mounted volume
        "REELFORGE_HTTP_TOKEN": OPERATOR, "REELFORGE_TIERS_FILE": str(tiers),
        "RUNWAYML_API_SECRET": emu.api_key, "RUNWAYML_BASE_URL": emu.url, "REELFORGE_JOB_LEASE_S": "2",
        "REELFORGE_POLL_MIN_INTERVAL_S": "0.1", "REELFORGE_POLL_MAX_INTERVAL_S": "0.3",
        "REELFORGE_CONFIRM_ABOVE_USD": "1000",
        "REELFORGE_RATE_LIMITS": f"runway={RATE[0]}/{RATE[1]}", "REELFORGE_QUEUE_POLL_S": "0.25",
        "REELFORGE_LOG_LEVEL": "INFO",
    }
    if database:
        env["REELFORGE_DATABASE_URL"] = database
    return env


async def _start(client: Client, prompt: str) -> str:
    result = await client.call_tool("generate_video", {"request": {"prompt": prompt, "provider": "runway",
                                                                   "duration_s": 5, "wait_seconds": 0}})
    assert not result.is_error, result.content[0].text
    return result.structured_content["job_id"]


async def _settle(client: Client, job_id: str, seconds: float = 180) -> dict:
    with anyio.fail_after(seconds):
        while True:
            job = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 10})).structured_content
            if job["status"] in TERMINAL:
                return job


def _drivers(env: dict[str, str]) -> dict[int, int]:
    """Process id -> how many jobs it holds a lease on now (read from the shared ledger)."""
    settings = Settings(home=Path(env["REELFORGE_HOME"]), database_url=env.get("REELFORGE_DATABASE_URL"))
    store = JobStore.open(settings)
    try:
        counts: dict[int, int] = {}
        for _, owner, _ in store.leases():
            if owner:
                pid = int(owner.split("/")[1])
                counts[pid] = counts.get(pid, 0) + 1
        return counts
    finally:
        store.close()


def _stored_remote_ids(env: dict[str, str]) -> int:
    """How many jobs of the shared ledger have their provider's remote id recorded."""
    settings = Settings(home=Path(env["REELFORGE_HOME"]), database_url=env.get("REELFORGE_DATABASE_URL"))
    store = JobStore.open(settings)
    try:
        return sum(1 for job in store.list(limit=1000) if job.remote_id)
    finally:
        store.close()


def _prompts(env: dict[str, str]) -> dict[str, str]:
    """Prompt -> job id, from the shared ledger (each test prompt is unique)."""
    settings = Settings(home=Path(env["REELFORGE_HOME"]), database_url=env.get("REELFORGE_DATABASE_URL"))
    store = JobStore.open(settings)
    try:
        return {job.request.get("prompt"): job.id for job in store.list(limit=1000)}
    finally:
        store.close()


def _starts(env: dict[str, str]) -> list[tuple[str, int, float]]:
    """(job id, attempt, start time in s) of every start on the rate-limited queue, from the engine's table."""
    query = ("SELECT workflow_uuid, started_at_epoch_ms FROM {table} WHERE queue_name = 'remote.runway' "
             "AND started_at_epoch_ms IS NOT NULL")
    url = env.get("REELFORGE_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as db:
            rows = db.execute(query.format(table="dbos.workflow_status")).fetchall()
    else:
        import sqlite3

        with sqlite3.connect(Path(env["REELFORGE_HOME"]) / "engine.sqlite") as db:
            rows = db.execute(query.format(table="workflow_status")).fetchall()
    return [(wid.split(".")[0], int(wid.split(".")[1]) if "." in wid else 1, ms / 1000) for wid, ms in rows]


def _most_in_any_window(times: list[float], period: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_replicas_and_a_worker_lose_nothing_to_kills_and_share_one_rate_limit(
        tmp_path: Path, database: str | None, emu) -> None:
    tiers = write_tiers(tmp_path)
    tiers.write_text(tiers.read_text().replace('providers = ["preview"]', 'providers = ["preview", "runway"]')
                     .replace("max_duration_s = 2", "max_duration_s = 10").replace("video_seconds_per_day = 3", ""))
    env = _env(tmp_path, database, emu, tiers)
    procs: list[subprocess.Popen] = []
    try:
        (a_url, a), (b_url, b) = (serve_http(env, log=tmp_path / "a.log"), serve_http(env, log=tmp_path / "b.log"))
        worker = start_worker(env, "remote", log=tmp_path / "worker.log")
        procs += [a, b, worker]
        emu.hold_jobs = True  # every job stays running at the provider until released
        async with bearer_client(a_url, OPERATOR) as on_a, bearer_client(b_url, OPERATOR) as on_b:
            ids: list[str] = []
            for i in range(JOBS // 2):
                ids += [await _start(on_a, f"shot {i} via a"), await _start(on_b, f"shot {i} via b")]
            # Alice's two generations a day are one allowance across the replicas.
            async with bearer_client(a_url, ALICE_TOKEN) as alice_a, bearer_client(b_url, ALICE_TOKEN) as alice_b:
                alice = [await _start(alice_a, "alice one"), await _start(alice_b, "alice two")]
                third = await alice_b.call_tool("generate_video", {"request": {"prompt": "alice three",
                                                                              "provider": "runway"}})
                assert third.is_error and "[quota_exceeded]" in third.content[0].text, third.content[0].text
            # Every create answered AND its remote id stored: a kill now is mid-poll, never mid-create. (The
            # emulator counts a create when it arrives; its answer can still be on the way to the server.)
            with anyio.fail_after(120):
                while emu.count("create") < JOBS + 2 or _stored_remote_ids(env) < JOBS + 2:
                    await anyio.sleep(0.2)
            drivers = _drivers(env)
            assert drivers.get(a.pid) and drivers.get(worker.pid), f"kills must land mid-job: {drivers}"
            before_kills = _starts(env)  # an attempt handed on later is cancelled, and DBOS forgets its start

            for proc in (a, worker):  # mid-poll: both drive jobs that run at the provider
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            emu.hold_jobs = False
            for job in list(emu.jobs.values()):
                job.held = False
            finished = [await _settle(on_b, job_id) for job_id in ids + alice]
        statuses = [j["status"] for j in finished]
        assert statuses == ["succeeded"] * len(finished), [(j["status"], j["error"]) for j in finished
                                                             if j["status"] != "succeeded"][:5]
        assert all(Path(j["output"]["path"]).is_file() for j in finished)
        assert sum("took it over" in " ".join(j.get("notes") or []) for j in finished) >= 2
        assert emu.count("create") == JOBS + 2, "a job was created twice (or lost) across the processes"
        # The engine's limiter admits at most RATE job starts per period across the processes; each
        # first start sends one create, at most `lag` later, so creates keep the limit over any window
        # of (period - lag). A taken-over job already has its remote id: its next attempt sends no
        # create and waits on the plain remote queue, outside the limit.
        starts = before_kills + [start for start in _starts(env) if start not in before_kills]
        first = {job_id: at for job_id, attempt, at in starts if attempt == 1}
        assert _most_in_any_window([at for _, _, at in starts], RATE[1]) <= RATE[0]
        job_of = _prompts(env)
        created = {job_of[job.request["promptText"]]: job.created_at for job in emu.jobs.values()}
        # Start stamps are whole seconds on SQLite (milliseconds on PostgreSQL): each is at most the
        # real start, so this lag is an upper bound and the window below a safe one.
        lag = max(created[job_id] - first[job_id] for job_id in created)
        assert 0 <= lag < RATE[1] / 2, lag
        assert _most_in_any_window(list(created.values()), RATE[1] - lag) <= RATE[0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        assert os.path.isdir(tmp_path / "home")
