"""Crash safety for Google Veo with a real process kill: a stdio server is SIGKILLed while one job is
mid-download, one mid-poll and one mid-submit; a restarted server ends each from the ledger with
exactly one create request per job seen by the Gemini API emulator (modeled on
test_minimax_replicate_kill.py)."""

from __future__ import annotations

import anyio
import pytest
from provider_utils import require_provider

require_provider("veo")  # the rest of this module needs its package
from client_utils import make_client, settle, start_job, until
from emulators.veo import VeoEmulator
from mcp import Client
from pydantic import SecretStr
from test_minimax_replicate_kill import _kill_servers, _server

from reelforge.media.probe import probe
from reelforge.settings import Settings

pytestmark = pytest.mark.slow
MODEL = {"provider": "veo", "model": "veo-3.1-fast-generate-preview", "duration_s": 4}


async def test_sigkill_mid_submit_poll_and_download(tmp_path, settings: Settings) -> None:
    with VeoEmulator() as emu:
        env = {"GEMINI_API_KEY": emu.api_key, "GOOGLE_GEMINI_BASE_URL": emu.url}
        home = tmp_path / "home"
        async with Client(_server(home, tmp_path, env)) as client:
            emu.inject("download", chunk_pause_s=0.5)  # a slow file: killed long before the end
            downloading = await start_job(client, "generate_video", {**MODEL, "prompt": "job one"})
            await until(lambda: emu.count("download") == 1, timeout=30)
            emu.hold_jobs = True
            polls_before = emu.count("poll")
            polling = await start_job(client, "generate_video", {**MODEL, "prompt": "job two"})
            await until(lambda: emu.count("poll") >= polls_before + 2)
            emu.inject("create", delay_s=3.0)  # reaches Google; the answer comes after the kill
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
            assert probe(views[job_id]["output"]["path"]).frames == 96
        await until(lambda: len(emu.jobs) == 3)  # the delayed create did start a (billed) job at Google
        assert emu.count("create") == 3  # one create per job, none replayed
