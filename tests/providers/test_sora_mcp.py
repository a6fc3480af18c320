"""Sora through the MCP tools (in-memory client) against the loopback Videos API emulator.

generate_video gives a probed, playable file (frames, duration, codec, Sora's aspect); a local
first frame of any size is conformed and uploaded; extend_video takes the last-frame path (the
catalog's `extend: last_frame`); estimate_cost quotes from the catalog without a request;
cancel_job deletes the video; create faults end in definite job states.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("sora")  # the rest of this module needs its package
from adapter_helpers import COMMON_CREATE_FAULTS, job_after_create_fault, settle, start_job
from client_utils import make_client
from emulators.sora import SoraEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings

SORA = {"provider": "sora", "model": "sora-2", "prompt": "a kite over the dunes", "duration_s": 4}


@pytest.fixture
def emu() -> Iterator[SoraEmulator]:
    with SoraEmulator() as emulator:
        yield emulator


@pytest.fixture
def sora_settings(settings: Settings, emu: SoraEmulator) -> Settings:
    return settings.with_provider_env(OPENAI_API_KEY=emu.api_key, OPENAI_BASE_URL=emu.url + "/v1")


async def test_generate_video_gives_a_probed_file(emu, sora_settings):
    async with make_client(sora_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", SORA))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 120 and info.duration_s == pytest.approx(4, abs=0.1)
    assert (info.width, info.height) == (160, 90)  # the emulator's 1280x720 at 1/8 scale
    assert job["quote_usd"] == pytest.approx(0.40)
    assert emu.count("create") == 1 and emu.count("download") == 1


async def test_local_first_frame_of_another_size(emu, sora_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (300, 300), "teal")
    async with make_client(sora_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            **SORA, "model": "sora-2-pro", "image": str(image), "aspect_ratio": "9:16", "resolution": "1024p", "confirm": True}))
    assert job["status"] == "succeeded", job
    assert (probe(job["output"]["path"]).width, probe(job["output"]["path"]).height) == (128, 224)
    assert job["quote_usd"] == pytest.approx(2.00)  # $0.50/s at 1024p x 4 s


async def test_estimate_cost_sends_nothing(emu, sora_settings):
    async with make_client(sora_settings) as client:
        result = await client.call_tool("estimate_cost", {"request": {**SORA, "model": "sora-2-pro", "duration_s": 12}})
    quote = result.structured_content["quotes"][0]
    assert quote["usd"] == pytest.approx(3.60) and quote["estimate"] is True
    assert emu.requests == []


async def test_refusals_before_anything_is_sent(emu, sora_settings):
    async with make_client(sora_settings) as client:
        wrong_size = await client.call_tool("generate_video", {"request": {**SORA, "resolution": "1024p"}})
        silent = await client.call_tool("generate_video", {"request": {**SORA, "audio": False}})
    assert wrong_size.is_error and "resolution" in wrong_size.content[0].text
    assert silent.is_error and "audio" in silent.content[0].text
    assert emu.requests == []


@pytest.mark.parametrize(("fault", "status", "code"), COMMON_CREATE_FAULTS)
async def test_create_faults_end_in_definite_states(emu, sora_settings, fault, status, code):
    job = await job_after_create_fault(sora_settings, emu, SORA, fault)
    assert job["status"] == status and job["error"]["code"] == code, job
    assert emu.api_key not in str(job)


@pytest.mark.slow
async def test_moderation_failure(emu, sora_settings):
    emu.fail_next = ("moderation_blocked", "Your request was blocked by our moderation system.")
    async with make_client(sora_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", SORA))
    assert job["status"] == "failed" and job["error"]["code"] == "moderation", job
    assert "moderation_blocked" in job["error"]["message"]


@pytest.mark.slow
async def test_extend_is_native_and_takes_the_stitched_whole(emu, sora_settings):
    async with make_client(sora_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", SORA))
        extended = await settle(client, await start_job(client, "extend_video", {
            **SORA, "prompt": "the kite climbs", "source": {"job_id": source["job_id"]}}))
    assert extended["status"] == "succeeded", extended
    assert emu.count("create") == 1 and emu.count("extend") == 1  # /videos/extensions, not a second clip
    assert probe(extended["output"]["path"]).duration_s > probe(source["output"]["path"]).duration_s


@pytest.mark.slow
async def test_cancel_job_deletes_the_video(emu, sora_settings):
    emu.hold_jobs = True
    async with make_client(sora_settings) as client:
        job_id = await start_job(client, "generate_video", SORA)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        result = await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", (job, result.content[0].text)
    assert emu.count("cancel") == 1 and next(iter(emu.jobs.values())).canceled
