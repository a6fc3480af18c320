"""Crash safety with a real process kill, for every provider with an emulator: a stdio server is
SIGKILLed while one job is mid-submit, one mid-poll and one mid-download; a restarted server ends
each from the ledger with exactly one create request per job seen by the emulator (the mid-submit
job `unknown`, never resent; the others succeeded with their files probed).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from client_utils import make_client, settle, start_job, until
from mcp import Client, StdioServerParameters
from provider_utils import installed
from pydantic import SecretStr

from reelforge.media.probe import probe
from reelforge.settings import Settings

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    emulator: str  # "module:Class" under tests/emulators
    env: Callable[[Any], dict[str, str]]  # the provider's variables, pointed at the emulator
    model: dict[str, Any]
    frames: int  # of the emulator's finished clip
    #: Seconds between download chunks: slow enough that the kill lands mid-download.
    chunk_pause_s: float = 0.5
    after: Callable[[Any], None] = field(default=lambda emu: None)
    #: The provider can list its jobs: a restarted server may find the mid-submit job's lost create
    #: again (issue 12's recovery) and finish it, once, instead of leaving it `unknown`.
    recovers: bool = False


def _module_value(name: str) -> Any:
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(f"emulators.{module}"), attr)


def _sora_lost_job_is_listed(emu: Any) -> None:
    # Issue 12's recovery path: a job whose create answer was lost is findable through the list endpoint.
    assert {v["id"] for v in emu.video_list()} == set(emu.jobs)


def _seedance_lost_job_is_listed(emu: Any) -> None:
    # Issue 12's recovery path: the task whose create answer was lost is in Ark's list endpoint.
    assert {t["id"] for t in emu.task_list({"page_size": ["500"]})["items"]} == set(emu.jobs)


CASES = {
    "minimax": Case("minimax:MiniMaxEmulator", lambda emu: {
        "MINIMAX_API_KEY": _module_value("minimax:API_KEY"), "MINIMAX_API_HOST": emu.url},
        {"provider": "minimax", "model": "hailuo-02"}, frames=24),
    "replicate": Case("replicate:ReplicateEmulator", lambda emu: {
        "REPLICATE_API_TOKEN": _module_value("replicate:TOKEN"), "REPLICATE_BASE_URL": emu.url},
        {"provider": "replicate", "model": "minimax-video-01"}, frames=24, recovers=True),
    "fal": Case("fal:FalEmulator", lambda emu: {
        "FAL_KEY": _module_value("fal:API_KEY"), "FAL_QUEUE_RUN_HOST": emu.url, "FAL_REST_URL": emu.url},
        {"provider": "fal", "model": "veo3.1-fast", "duration_s": 4}, frames=24),
    "kling": Case("kling:KlingEmulator", lambda emu: {
        "KLING_ACCESS_KEY": _module_value("kling:ACCESS_KEY"), "KLING_SECRET_KEY": _module_value("kling:SECRET_KEY"),
        "KLING_BASE_URL": emu.url},
        {"provider": "kling", "model": "kling-v2-5-turbo"}, frames=120, chunk_pause_s=1.0, recovers=True),
    "sora": Case("sora:SoraEmulator", lambda emu: {"OPENAI_API_KEY": emu.api_key, "OPENAI_BASE_URL": emu.url + "/v1"},
                 {"provider": "sora", "model": "sora-2", "duration_s": 4}, frames=120, after=_sora_lost_job_is_listed,
                 recovers=True),
    "veo": Case("veo:VeoEmulator", lambda emu: {"GEMINI_API_KEY": emu.api_key, "GOOGLE_GEMINI_BASE_URL": emu.url},
                {"provider": "veo", "model": "veo-3.1-fast-generate-preview", "duration_s": 4}, frames=96),
    "xai": Case("xai:XaiEmulator", lambda emu: {"XAI_API_KEY": emu.api_key, "XAI_BASE_URL": emu.url + "/v1"},
                {"provider": "xai", "model": "grok-imagine-video", "duration_s": 2}, frames=48),
    "seedance": Case("seedance:SeedanceEmulator", lambda emu: {"ARK_API_KEY": emu.api_key, "ARK_BASE_URL": emu.base_url},
                     {"provider": "seedance", "model": "seedance-2.0", "duration_s": 4, "resolution": "480p"},
                     frames=96, after=_seedance_lost_job_is_listed, recovers=True),
    "huggingface": Case("huggingface:HuggingFaceEmulator", lambda emu: {
        "HF_TOKEN": _module_value("huggingface:TOKEN"), "HF_ROUTER_URL": emu.url},
        {"provider": "huggingface", "model": "wan2.2-t2v-a14b-fal", "duration_s": 2}, frames=24),
    "together": Case("together:TogetherEmulator", lambda emu: {
        "TOGETHER_API_KEY": emu.api_key, "TOGETHER_BASE_URL": emu.url},
        {"provider": "together", "model": "video-01-director"}, frames=120),
}


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
    if os.environ.get("PYTHONPATH"):  # a checkout run from a copy: the server imports the same code
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return StdioServerParameters(command=sys.executable, args=["-m", "reelforge", "serve"], env=env, cwd=str(cwd))


@pytest.mark.parametrize("name", [name for name in CASES if installed(name)])
async def test_sigkill_mid_submit_poll_and_download(name: str, tmp_path: Path, settings: Settings) -> None:
    case = CASES[name]
    with _module_value(case.emulator)() as emu:
        env = case.env(emu)
        home = tmp_path / "home"
        async with Client(_server(home, tmp_path, env)) as client:
            emu.inject("download", chunk_pause_s=case.chunk_pause_s)  # killed long before the clip arrives
            downloading = await start_job(client, "generate_video", {**case.model, "prompt": "job one"})
            await until(lambda: emu.count("download") == 1, timeout=30)
            emu.hold_jobs = True
            polls_before = emu.count("poll")
            polling = await start_job(client, "generate_video", {**case.model, "prompt": "job two"})
            await until(lambda: emu.count("poll") >= polls_before + 2)
            emu.inject("create", delay_s=3.0)  # reaches the provider; the answer comes after the kill
            submitting = await start_job(client, "generate_video", {**case.model, "prompt": "job three"})
            await until(lambda: emu.count("create") == 3)
            assert _kill_servers(home) >= 1, "server process not found"
            await anyio.sleep(0.2)

        for job in emu.jobs.values():
            job.held = False
        fields = {"home": home, "allow_private_urls": True,
                  "provider_env": {var: SecretStr(value) for var, value in env.items()}}
        async with make_client(settings.model_copy(update=fields)) as client:
            views = {job_id: await settle(client, job_id) for job_id in (downloading, polling, submitting)}

        lost = views[submitting]
        if case.recovers and lost["status"] == "succeeded":  # found again through the provider's list
            assert any(note.startswith("Recovery: found") for note in lost["notes"]), lost
        else:
            assert lost["status"] == "unknown" and lost["error"]["code"] == "outcome_unknown", lost
        for job_id in (downloading, polling):
            assert views[job_id]["status"] == "succeeded", views[job_id]
            assert probe(views[job_id]["output"]["path"]).frames == case.frames
        await until(lambda: len(emu.jobs) == 3)  # the delayed create did start a (billed) job at the provider
        assert emu.count("create") == 3  # one create per job, none replayed
        case.after(emu)
