"""Crash safety: the real server (stdio subprocess) is SIGKILLed during submit, poll and download.

On restart each job ends from what the ledger stored: a job killed mid-submit is `unknown` (the
create may have been billed; it is never sent again), a job with a stored remote id resumes
polling and downloading, and the emulator sees exactly one create request per job.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import pytest
from provider_utils import require_provider
from adapter_helpers import settle
from emulators.base import Emulator
from emulators.luma import LumaEmulator
from emulators.runway import RunwayEmulator
from mcp import Client, StdioServerParameters

from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client

RUNWAY_JOB = {"provider": "runway", "model": "gen4.5", "prompt": "a kite", "duration_s": 2, "wait_seconds": 0}
LUMA_JOB = {"provider": "luma", "model": "ray-3.2", "prompt": "a lantern", "resolution": "540p", "wait_seconds": 0}
FAST_POLLS = {"REELFORGE_POLL_MIN_INTERVAL_S": "0.02", "REELFORGE_POLL_MAX_INTERVAL_S": "0.1"}


def provider_env(emu: Emulator) -> dict[str, str]:
    if isinstance(emu, RunwayEmulator):
        return {"RUNWAYML_API_SECRET": emu.api_key, "RUNWAYML_BASE_URL": emu.url}
    assert isinstance(emu, LumaEmulator)
    return {"LUMAAI_API_KEY": emu.api_key, "LUMAAI_BASE_URL": emu.dream_machine_url, "LUMA_AGENTS_BASE_URL": emu.agents_url}


def restarted_settings(home: Path, root: Path, emu: Emulator) -> Settings:
    """The same server configuration, in process (a restart reads the same ledger)."""
    if isinstance(emu, RunwayEmulator):
        keys = {"RUNWAYML_API_SECRET": emu.api_key, "RUNWAYML_BASE_URL": emu.url}
    else:
        assert isinstance(emu, LumaEmulator)
        keys = {"LUMAAI_API_KEY": emu.api_key, "LUMAAI_BASE_URL": emu.dream_machine_url,
                "LUMA_AGENTS_BASE_URL": emu.agents_url}  # fmt: skip
    return Settings(home=home, allowed_input_roots=[root], poll_min_interval_s=0.02,
                    poll_max_interval_s=0.1).with_provider_env(**keys)


async def start_then_kill(home: Path, root: Path, emu: Emulator, request: dict, killed_when) -> str:
    """Start a job on a real stdio server, SIGKILL the server once `killed_when(job_id)` holds."""
    env = {"REELFORGE_HOME": str(home), "REELFORGE_ALLOWED_INPUT_ROOTS": str(root), "PATH": os.environ.get("PATH", ""),
           "HOME": os.environ.get("HOME", str(root)), **FAST_POLLS, **provider_env(emu)}  # fmt: skip
    pid_file = root / "server.pid"
    # The server writes its own pid first, so the test kills exactly the process it started.
    boot = f"import os, sys; open({str(pid_file)!r}, 'w').write(str(os.getpid())); " \
           "sys.argv = ['reelforge', 'serve']; from reelforge.cli import main; main()"
    params = StdioServerParameters(command=sys.executable, args=["-c", boot], env=env, cwd=str(root))
    async with Client(params) as client:
        result = await client.call_tool("generate_video", {"request": request})
        assert not result.is_error, result.content[0].text
        job_id = result.structured_content["job_id"]
        with anyio.fail_after(30):
            while not killed_when(job_id):
                await anyio.sleep(0.02)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        await anyio.sleep(0.2)
    return job_id


async def finish_after_restart(settings: Settings, job_id: str) -> dict:
    async with make_client(settings) as client:
        return await settle(client, job_id)


@pytest.fixture
def runway_emu():
    require_provider("runway")
    with RunwayEmulator() as emu:
        yield emu


@pytest.fixture
def luma_emu():
    require_provider("luma")
    with LumaEmulator() as emu:
        emu.steps = 2
        yield emu


@pytest.mark.slow
async def test_killed_during_submit_is_unknown_and_never_resent(runway_emu, tmp_path, settings):
    home = tmp_path / "home"
    runway_emu.inject("create", delay_s=2.0)  # the create reached Runway; its answer never comes back
    job_id = await start_then_kill(home, tmp_path, runway_emu, RUNWAY_JOB, lambda _: runway_emu.count("create") == 1)
    job = await finish_after_restart(restarted_settings(home, tmp_path, runway_emu), job_id)
    assert job["status"] == "unknown" and job["error"]["code"] == "outcome_unknown", job
    assert "dashboard" in job["error"]["message"]
    await anyio.sleep(2.2)  # let the emulator finish the slow create it was handed
    assert runway_emu.count("create") == 1 and len(runway_emu.jobs) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("emu_fixture", "request_body"), [("runway_emu", RUNWAY_JOB), ("luma_emu", LUMA_JOB)],
                         ids=["runway", "luma"])  # fmt: skip
async def test_killed_during_poll_resumes_from_the_stored_remote_id(emu_fixture, request_body, tmp_path, settings, request):
    emu: Emulator = request.getfixturevalue(emu_fixture)
    home = tmp_path / "home"
    emu.hold_jobs = True
    job_id = await start_then_kill(home, tmp_path, emu, request_body, lambda _: emu.count("poll") >= 2)
    for held in emu.jobs.values():
        held.held = False
    job = await finish_after_restart(restarted_settings(home, tmp_path, emu), job_id)
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames > 0
    assert emu.count("create") == 1


@pytest.mark.slow
async def test_killed_during_download_finishes_after_restart(runway_emu, tmp_path, settings):
    home = tmp_path / "home"
    runway_emu.inject("download", chunk_pause_s=0.3)
    job_dir = home / "outputs"

    def mid_download(job_id: str) -> bool:
        return runway_emu.count("download") == 1 and any(job_dir.glob(f"{job_id}/.*.partial-*"))

    job_id = await start_then_kill(home, tmp_path, runway_emu, RUNWAY_JOB, mid_download)
    job = await finish_after_restart(restarted_settings(home, tmp_path, runway_emu), job_id)
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 48
    assert runway_emu.count("create") == 1 and runway_emu.count("download") == 2
    assert not list((job_dir / job_id).glob(".*.partial-*")), "the killed download's temp file was left behind"
