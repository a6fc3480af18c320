"""Recovering charged-but-lost jobs: the emulator accepts a create and the answer is lost (the
connection drops after the job was made), so the job ends `unknown`. A server's next start, or
`reelforge jobs recover`, finds the job again through the provider's list, adopts its remote id and
finishes it: one create at the provider, the file downloaded and probed, charged once. A create that
never started anything, and a provider that cannot list, are said plainly in the job's notes."""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
import pytest
from adapter_helpers import settle, start_job
from client_utils import make_client
from provider_utils import needs_providers

from reelforge.jobs.store import JobStore
from reelforge.media.probe import probe

pytestmark = needs_providers("sora", "runway", "replicate", "luma", "seedance", "kling")
SORA = {"provider": "sora", "model": "sora-2", "prompt": "a paper boat at sunrise", "duration_s": 4}


@pytest.fixture
def emu():
    from emulators.sora import SoraEmulator

    with SoraEmulator() as emulator:
        yield emulator


def _sora(settings, emu):
    return settings.with_provider_env(OPENAI_API_KEY=emu.api_key, OPENAI_BASE_URL=emu.url + "/v1")


async def _recovered(client, job_id: str) -> dict:
    """The job once the server's start-up recovery has looked at it (it runs in the background), settled."""
    with anyio.fail_after(30):
        while True:
            job = (await client.call_tool("get_job", {"job_id": job_id})).structured_content
            if any(note.startswith("Recovery:") for note in job["notes"] or []):
                return await settle(client, job_id)
            await anyio.sleep(0.05)


async def _lost(settings, emu, **fault) -> str:
    emu.inject("create", drop=True, **fault)
    async with make_client(settings) as client:
        job = await settle(client, await start_job(client, "generate_video", SORA))
    assert job["status"] == "unknown", job
    return job["job_id"]


async def test_a_restarted_server_finds_the_lost_job_and_finishes_it_once(settings, emu) -> None:
    configured = _sora(settings, emu)
    job_id = await _lost(configured, emu, process=True)  # Sora made the video; its answer was lost
    assert emu.count("create") == 1 and len(emu.jobs) == 1
    async with make_client(configured) as client:  # a new start recovers `unknown` jobs on its own
        job = await _recovered(client, job_id)
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 120
    assert any("Recovery: found remote job" in note for note in job["notes"]), job["notes"]
    assert emu.count("create") == 1  # found again, never resent
    row = JobStore.open(configured).require(job_id)
    assert row.remote_id == next(iter(emu.jobs)) and row.cost_usd == pytest.approx(row.quote_usd)


async def test_a_create_that_started_nothing_stays_unknown_with_the_reason(settings, emu) -> None:
    configured = _sora(settings, emu)
    job_id = await _lost(configured, emu)  # dropped before Sora made anything
    async with make_client(configured) as client:
        job = await _recovered(client, job_id)
    assert job["status"] == "unknown" and emu.count("create") == 1 and not emu.jobs
    assert any("most likely never started one" in note for note in job["notes"]), job["notes"]


async def test_a_provider_that_cannot_list_says_so(settings) -> None:
    from emulators.runway import RunwayEmulator

    with RunwayEmulator() as runway:
        configured = settings.with_provider_env(RUNWAYML_API_SECRET=runway.api_key, RUNWAYML_BASE_URL=runway.url)
        runway.inject("create", drop=True, process=True)
        async with make_client(configured) as client:
            job_id = await start_job(client, "generate_video", {"provider": "runway", "prompt": "a kite"})
            assert (await settle(client, job_id))["status"] == "unknown"
        async with make_client(configured) as client:
            job = await _recovered(client, job_id)
    assert job["status"] == "unknown" and runway.count("create") == 1
    assert any("cannot list or look up jobs" in note for note in job["notes"]), job["notes"]


@pytest.mark.slow
async def test_reelforge_jobs_recover_on_the_command_line(settings, emu, tmp_path) -> None:
    configured = _sora(settings, emu)
    job_id = await _lost(configured, emu, process=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REELFORGE_", "OPENAI_"))}
    env.update({"REELFORGE_HOME": str(configured.home), "OPENAI_API_KEY": emu.api_key,
                "OPENAI_BASE_URL": emu.url + "/v1", "REELFORGE_ALLOW_PRIVATE_URLS": "true",
                "REELFORGE_POLL_MIN_INTERVAL_S": "0.02", "REELFORGE_POLL_MAX_INTERVAL_S": "0.1"})
    out = subprocess.run([sys.executable, "-m", "reelforge", "jobs", "recover", job_id, "--json"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f'"{job_id}"' in out.stdout and '"succeeded"' in out.stdout
    assert emu.count("create") == 1


async def test_replicate_lost_prediction_is_found_in_its_list(settings) -> None:
    from emulators.replicate import TOKEN, ReplicateEmulator

    with ReplicateEmulator() as rep:
        configured = settings.with_provider_env(REPLICATE_API_TOKEN=TOKEN, REPLICATE_BASE_URL=rep.url)
        request = {"provider": "replicate", "model": "minimax-video-01", "prompt": "a paper boat on a river"}
        async with make_client(configured) as client:
            # Another prediction of the same model just before, with another prompt, is not taken for it.
            done = await settle(client, await start_job(client, "generate_video", {**request, "prompt": "a lake"}))
            assert done["status"] == "succeeded"
            rep.inject("create", drop=True, process=True)
            job_id = await start_job(client, "generate_video", request)
            assert (await settle(client, job_id))["status"] == "unknown"
        async with make_client(configured) as client:
            job = await _recovered(client, job_id)
    assert job["status"] == "succeeded", job
    assert rep.count("create") == 2 and probe(job["output"]["path"]).frames > 0
    row = JobStore.open(configured).require(job_id)
    assert row.remote_id in rep.jobs and row.remote_id != done["job_id"]


async def test_luma_lost_generation_is_found_in_its_list(settings) -> None:
    from emulators.luma import LumaEmulator

    with LumaEmulator() as luma:
        configured = settings.with_provider_env(LUMAAI_API_KEY=luma.api_key, LUMAAI_BASE_URL=luma.dream_machine_url)
        request = {"provider": "luma", "model": "ray-2", "prompt": "a lantern on a pier", "duration_s": 5}
        luma.inject("create", drop=True, process=True)
        async with make_client(configured) as client:
            job_id = await start_job(client, "generate_video", request)
            assert (await settle(client, job_id))["status"] == "unknown"
        async with make_client(configured) as client:
            job = await _recovered(client, job_id)
    assert job["status"] == "succeeded", job
    assert luma.count("create") == 1 and probe(job["output"]["path"]).frames > 0


async def test_seedance_lost_task_is_found_in_its_list(settings) -> None:
    from emulators.seedance import SeedanceEmulator

    with SeedanceEmulator() as ark:
        configured = settings.with_provider_env(ARK_API_KEY=ark.api_key, ARK_BASE_URL=ark.base_url)
        request = {"provider": "seedance", "model": "seedance-2.0", "prompt": "a kite", "duration_s": 4,
                   "resolution": "480p"}
        ark.inject("create", drop=True, process=True)
        async with make_client(configured) as client:
            job_id = await start_job(client, "generate_video", request)
            assert (await settle(client, job_id))["status"] == "unknown"
        async with make_client(configured) as client:
            job = await _recovered(client, job_id)
    assert job["status"] == "succeeded", job
    assert ark.count("create") == 1 and probe(job["output"]["path"]).frames == 96


async def test_kling_lost_task_is_read_by_the_job_id_it_carried(settings) -> None:
    from emulators.kling import ACCESS_KEY, SECRET_KEY, KlingEmulator

    with KlingEmulator() as kling:
        configured = settings.with_provider_env(KLING_ACCESS_KEY=ACCESS_KEY, KLING_SECRET_KEY=SECRET_KEY,
                                                KLING_BASE_URL=kling.url)
        request = {"provider": "kling", "model": "kling-v2-5-turbo", "prompt": "a kite", "duration_s": 5}
        kling.inject("create", drop=True, process=True)
        async with make_client(configured) as client:
            job_id = await start_job(client, "generate_video", request)
            assert (await settle(client, job_id))["status"] == "unknown"
        [create] = [r for r in kling.requests if r.route == "create"]
        assert create.json["external_task_id"] == job_id  # the create carried our job id
        async with make_client(configured) as client:
            job = await _recovered(client, job_id)
    assert job["status"] == "succeeded", job
    assert kling.count("create") == 1 and probe(job["output"]["path"]).frames == 120
