"""Two HTTP replicas on one PostgreSQL ledger, as a team would run them behind a load balancer:
a job started on one is visible, waitable and cancellable on the other; a replica killed with
SIGKILL mid-poll loses nothing (the live one takes its jobs over, one create per job at the
provider); a user's daily allowance holds across both replicas."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from http_server_utils import bearer_client, serve_http
from mcp import Client
from provider_utils import needs_providers
from test_tiers import ALICE_TOKEN, write_tiers

pytestmark = [pytest.mark.slow, needs_providers("runway")]
OPERATOR = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778"
TERMINAL = {"succeeded", "failed", "canceled", "unknown"}


@pytest.fixture
def emu() -> Iterator[object]:
    from emulators.runway import RunwayEmulator

    with RunwayEmulator() as emulator:
        yield emulator


def _replica(tmp_path: Path, pg_url: str, emu, tiers: Path) -> tuple[str, subprocess.Popen]:
    return serve_http({
        "REELFORGE_HOME": str(tmp_path / "home"),  # shared storage for outputs, like a mounted volume
        "REELFORGE_DATABASE_URL": pg_url, "REELFORGE_HTTP_TOKEN": OPERATOR, "REELFORGE_TIERS_FILE": str(tiers),
        "RUNWAYML_API_SECRET": emu.api_key, "RUNWAYML_BASE_URL": emu.url, "REELFORGE_JOB_LEASE_S": "2",
        "REELFORGE_POLL_MIN_INTERVAL_S": "0.05", "REELFORGE_POLL_MAX_INTERVAL_S": "0.2",
        "REELFORGE_CONFIRM_ABOVE_USD": "100",
    }, keep_stderr=False)


def connect(url: str, token: str = OPERATOR):
    return bearer_client(url, token)


async def _start(client: Client, prompt: str) -> str:
    result = await client.call_tool("generate_video", {"request": {"prompt": prompt, "provider": "runway",
                                                                   "wait_seconds": 0}})
    assert not result.is_error, result.content[0].text
    return result.structured_content["job_id"]


async def _settle(client: Client, job_id: str, seconds: float = 90) -> dict:
    with anyio.fail_after(seconds):
        while True:
            job = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 5})).structured_content
            if job["status"] in TERMINAL:
                return job


async def test_two_replicas_share_jobs_survive_a_kill_and_one_allowance(tmp_path: Path, pg_url: str, emu) -> None:
    tiers = write_tiers(tmp_path)
    tiers.write_text(tiers.read_text().replace('providers = ["preview"]', 'providers = ["preview", "runway"]')
                     .replace("max_duration_s = 2", "max_duration_s = 10").replace("video_seconds_per_day = 3", ""))
    (a_url, a), (b_url, b) = _replica(tmp_path, pg_url, emu, tiers), _replica(tmp_path, pg_url, emu, tiers)
    try:
        emu.hold_jobs = True  # every job stays running at the provider until released
        async with connect(a_url) as on_a:
            started_on_a = [await _start(on_a, f"shot {i} on a") for i in range(4)]
            doomed = await _start(on_a, "a shot to cancel from the other replica")
        async with connect(b_url) as on_b:
            started_on_b = [await _start(on_b, f"shot {i} on b") for i in range(4)]
            # Visible and cancellable from the replica that did not start it.
            canceled = (await on_b.call_tool("cancel_job", {"job_id": doomed})).structured_content
            assert canceled["status"] == "canceled", canceled
            with anyio.fail_after(30):  # replica A, which drives it, tells the provider too
                while not emu.count("cancel"):
                    await anyio.sleep(0.1)
            with anyio.fail_after(30):
                while emu.count("create") < 9:
                    await anyio.sleep(0.1)
            a.send_signal(signal.SIGKILL)  # mid-poll: A's four jobs are running at the provider
            a.wait(timeout=10)
            emu.hold_jobs = False
            for job in emu.jobs.values():
                job.held = False
            finished = [await _settle(on_b, job_id) for job_id in started_on_a + started_on_b]
            assert [j["status"] for j in finished] == ["succeeded"] * 8, [(j["status"], j["error"]) for j in finished]
            assert all(Path(j["output"]["path"]).is_file() for j in finished)
        assert emu.count("create") == 9, "a job was created twice (or lost) across the replicas"

        # Alice's allowance (2 generations a day in her tier) is one allowance, whichever replica she reaches.
        async with connect(b_url, ALICE_TOKEN) as alice_b:
            first = await _start(alice_b, "alice one")
        (a_url, a) = _replica(tmp_path, pg_url, emu, tiers)  # a fresh replica in A's place
        async with connect(a_url, ALICE_TOKEN) as alice_a:
            second = await _start(alice_a, "alice two")
            third = await alice_a.call_tool("generate_video", {"request": {"prompt": "alice three",
                                                                          "provider": "runway"}})
            assert third.is_error and "[quota_exceeded]" in third.content[0].text, third.content[0].text
            assert {(await _settle(alice_a, j))["status"] for j in (first, second)} == {"succeeded"}
        assert emu.count("create") == 11
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
