"""The real stdio transport, and a server killed mid-job that finishes the job after a restart."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client


def _server_params(home: Path, cwd: Path) -> StdioServerParameters:
    env = {"REELFORGE_HOME": str(home), "REELFORGE_ALLOWED_INPUT_ROOTS": str(cwd), "PATH": os.environ.get("PATH", ""),
           "HOME": os.environ.get("HOME", str(cwd))}
    return StdioServerParameters(command=sys.executable, args=["-m", "reelforge", "serve"], env=env, cwd=str(cwd))


def _server_pids(home: Path) -> list[int]:
    """PIDs of reelforge servers whose environment names this test's home (Linux /proc)."""
    marker = f"REELFORGE_HOME={home}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
async def test_stdio_subprocess_lists_tools_and_generates(tmp_path: Path) -> None:
    async with Client(_server_params(tmp_path / "home", tmp_path)) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"generate_video", "estimate_cost", "extend_video", "make_loop", "compose_timeline",
                         "get_job", "list_jobs", "cancel_job", "list_models", "generate_batch", "save_character"}
        result = await client.call_tool("generate_video", {"request": {
            "prompt": "stdio", "provider": "preview", "duration_s": 1, "resolution": "360p", "wait_seconds": 60}})
        assert result.structured_content["status"] == "succeeded", result.content[0].text
        assert probe(result.structured_content["output"]["path"]).frames == 24


@pytest.mark.slow
async def test_killed_server_resumes_job_on_restart(tmp_path: Path, settings: Settings) -> None:
    home = tmp_path / "home"
    # A clip long enough to be mid-render when the server is killed.
    request = {"prompt": "resume me", "provider": "preview", "duration_s": 30, "resolution": "720p",
               "fps": 30, "wait_seconds": 0}
    async with Client(_server_params(home, tmp_path)) as client:
        handle = (await client.call_tool("generate_video", {"request": request})).structured_content
        job_id = handle["job_id"]
        deadline = time.monotonic() + 60
        while True:  # wait until it is really rendering
            job = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 0.5})).structured_content
            if job["status"] == "running" and (job["progress"] or 0) > 0 or time.monotonic() > deadline:
                break
        assert job["status"] == "running", job
        assert list((home / "outputs" / job_id).glob(".partial-*.mp4")), "the render writes a temp file first"
        pids = _server_pids(home)
        assert pids, "server process not found"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        await anyio.sleep(0.2)
    assert not list((home / "outputs" / job_id).glob("video.mp4")), "a killed render left a final file"
    restarted = Settings(home=home, allowed_input_roots=[tmp_path], poll_min_interval_s=0.02)
    async with make_client(restarted) as client:
        result = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 240})
        job = result.structured_content
        assert job["status"] == "succeeded", job
        info = probe(job["output"]["path"])
        assert info.frames == 900 and (info.width, info.height) == (1280, 720)
    left = sorted(p.name for p in (home / "outputs" / job_id).iterdir() if p.name.startswith(".") or "partial" in p.name)
    assert left == [], f"the killed render's temp files stayed beside the finished video: {left}"
