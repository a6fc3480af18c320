"""Crash safety for fal with a real process kill: a stdio server is SIGKILLed while one job is mid-submit,
one mid-poll and one mid-download; a restarted server ends each from the ledger, with exactly one
submit per job seen by the fal emulator (the kill harness of test_minimax_replicate_kill.py).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import pytest
from provider_utils import require_provider

require_provider("fal")  # the rest of this module needs its package
from client_utils import make_client, settle, start_job, until
from emulators.fal import API_KEY, FalEmulator
from mcp import Client, StdioServerParameters
from pydantic import SecretStr

from reelforge.media.probe import probe
from reelforge.settings import Settings

pytestmark = pytest.mark.slow
MODEL = {"provider": "fal", "model": "veo3.1-fast", "duration_s": 4}


def _kill_servers(home: Path) -> int:
    """SIGKILL every process whose environment names this test's data home; return how many."""
    marker = f"REELFORGE_HOME={home}".encode()
    killed = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except OSError:
            continue
    return killed


def _server(home: Path, cwd: Path, provider_env: dict[str, str]) -> StdioServerParameters:
    env = {"REELFORGE_HOME": str(home), "REELFORGE_ALLOWED_INPUT_ROOTS": str(cwd), "PATH": os.environ.get("PATH", ""),
           "HOME": os.environ.get("HOME", str(cwd)), "REELFORGE_POLL_MIN_INTERVAL_S": "0.02",
           "REELFORGE_POLL_MAX_INTERVAL_S": "0.1", "REELFORGE_ALLOW_PRIVATE_URLS": "true", **provider_env}
    return StdioServerParameters(command=sys.executable, args=["-m", "reelforge", "serve"], env=env, cwd=str(cwd))


async def test_sigkill_mid_submit_poll_and_download(tmp_path: Path, settings: Settings) -> None:
    with FalEmulator() as emu:
        env = {"FAL_KEY": API_KEY, "FAL_QUEUE_RUN_HOST": emu.url, "FAL_REST_URL": emu.url}
        home = tmp_path / "home"
        async with Client(_server(home, tmp_path, env)) as client:
            emu.inject("download", chunk_pause_s=0.5)  # ~10 s for the clip: killed long before the end
            downloading = await start_job(client, "generate_video", {**MODEL, "prompt": "job one"})
            await until(lambda: emu.count("download") == 1, timeout=30)
            emu.hold_jobs = True
            polls_before = emu.count("poll")
            polling = await start_job(client, "generate_video", {**MODEL, "prompt": "job two"})
            await until(lambda: emu.count("poll") >= polls_before + 2)
            emu.inject("create", delay_s=3.0)  # reaches fal; the answer comes after the kill
            submitting = await start_job(client, "generate_video", {**MODEL, "prompt": "job three"})
            await until(lambda: emu.count("create") == 3)
            assert _kill_servers(home) >= 1, "server process not found"
            await anyio.sleep(0.2)

        for job in emu.jobs.values():
            job.held = False
        fields = {"provider_env": {name: SecretStr(value) for name, value in env.items()}}
        restarted = settings.model_copy(update={"home": home, "allow_private_urls": True, **fields})
        async with make_client(restarted) as client:
            views = {job_id: await settle(client, job_id) for job_id in (downloading, polling, submitting)}

        assert views[submitting]["status"] == "unknown", views[submitting]
        assert views[submitting]["error"]["code"] == "outcome_unknown"
        for job_id in (downloading, polling):
            assert views[job_id]["status"] == "succeeded", views[job_id]
            assert probe(views[job_id]["output"]["path"]).frames == 24
        await until(lambda: len(emu.jobs) == 3)  # the delayed submit did start a (billed) request at fal
        assert emu.count("create") == 3  # one submit per job, none replayed
