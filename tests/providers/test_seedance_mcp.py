"""Seedance through the MCP tools (in-memory client) against the loopback Ark emulator: a probed
clip from generate_video, token-based quotes from estimate_cost, cancel_job on a queued task, and
create faults ending in definite states with one create request."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("seedance")  # the rest of this module needs its package
from adapter_helpers import COMMON_CREATE_FAULTS, job_after_create_fault, settle, start_job
from client_utils import make_client
from emulators.seedance import SeedanceEmulator

from reelforge.media.probe import probe
from reelforge.settings import Settings

V2 = {"provider": "seedance", "model": "seedance-2.0", "prompt": "a kite over the dunes", "duration_s": 4,
      "resolution": "480p"}


@pytest.fixture
def emu() -> Iterator[SeedanceEmulator]:
    with SeedanceEmulator() as emulator:
        yield emulator


@pytest.fixture
def ark_settings(settings: Settings, emu: SeedanceEmulator) -> Settings:
    return settings.with_provider_env(ARK_API_KEY=emu.api_key, ARK_BASE_URL=emu.base_url)


async def test_generate_video_gives_a_probed_clip_and_the_billed_cost(emu, ark_settings):
    async with make_client(ark_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**V2, "seed": 5, "audio": True}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 96 and info.duration_s == pytest.approx(4, abs=0.1)
    tokens = 864 * 496 * 24 * 4 // 1024
    assert job["quote_usd"] == pytest.approx(tokens * 7.0 / 1e6, abs=1e-4)
    assert job["cost_usd"] == pytest.approx(tokens * 7.0 / 1e6, abs=1e-4)
    body = emu.requests_to("create")[0].json
    assert emu.count("create") == 1 and body["seed"] == 5 and body["generate_audio"] is True


async def test_estimate_cost_uses_the_rendered_size_and_sends_nothing(emu, ark_settings):
    async with make_client(ark_settings) as client:
        result = await client.call_tool("estimate_cost", {"request": {
            "provider": "seedance", "model": "seedance-2.0", "prompt": "x", "duration_s": 10, "resolution": "1080p",
            "aspect_ratio": "4:3"}})
    quote = result.structured_content["quotes"][0]
    assert quote["usd"] == pytest.approx(1664 * 1248 * 24 * 10 / 1024 * 7.7 / 1e6, abs=1e-3)
    assert quote["estimate"] is True and emu.requests == []


async def test_refusals_before_anything_is_sent(emu, ark_settings):
    async with make_client(ark_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**V2, "prompt": "a kite --dur 15"}})
    assert result.is_error and "prompt" in result.content[0].text
    assert emu.requests == []


@pytest.mark.parametrize(("fault", "status", "code"), COMMON_CREATE_FAULTS)
async def test_create_faults_end_in_definite_states(emu, ark_settings, fault, status, code):
    job = await job_after_create_fault(ark_settings, emu, V2, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


@pytest.mark.slow
async def test_cancel_job_cancels_the_queued_task(emu, ark_settings):
    emu.hold_jobs = True  # the task stays queued, which is when Ark can cancel it
    async with make_client(ark_settings) as client:
        job_id = await start_job(client, "generate_video", V2)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        result = await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", (job, result.content[0].text)
    assert emu.count("cancel") == 1 and next(iter(emu.jobs.values())).canceled


@pytest.mark.slow
async def test_moderation_failure_of_the_output(emu, ark_settings):
    emu.fail_next = ("OutputVideoSensitiveContentDetected", "The output video may contain sensitive content.")
    async with make_client(ark_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", V2))
    assert job["status"] == "failed" and job["error"]["code"] == "moderation", job
    assert "OutputVideoSensitiveContentDetected" in job["error"]["message"]


async def test_extend_continues_from_seedances_own_last_frame_still(emu, ark_settings):
    """Every create asks for `return_last_frame`; the still is kept beside the clip, and extend_video's
    continuation starts from exactly it (not a frame decoded from the compressed video)."""
    import base64

    from emulators.seedance import last_frame_png

    async with make_client(ark_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", V2))
        assert source["status"] == "succeeded", source
        kept = emu.jobs[source["remote_id"]] if "remote_id" in source else next(iter(emu.jobs.values()))
        extended = await settle(client, await start_job(client, "extend_video", {
            "source": {"job_id": source["job_id"]}, "prompt": "the kite dives", "provider": "seedance",
            "model": "seedance-2.0", "duration_s": 4, "resolution": "480p"}))
    assert extended["status"] == "succeeded", extended
    assert "own still of the source's last frame" in " ".join(extended["notes"])
    first, second = emu.requests_to("create")
    assert first.json["return_last_frame"] is True and second.json["return_last_frame"] is True
    [frame] = [c for c in second.json["content"] if c.get("role") == "first_frame"]
    sent = base64.b64decode(frame["image_url"]["url"].partition(",")[2])
    assert sent == last_frame_png(kept.id)  # byte for byte the provider's still
    assert probe(extended["output"]["path"]).duration_s == pytest.approx(8, abs=0.15)


async def test_a_last_frame_still_that_cannot_be_fetched_costs_nothing(emu, ark_settings):
    emu.inject("last_frame", status=404, times=10)
    async with make_client(ark_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", V2))
        assert source["status"] == "succeeded", source  # the clip is the result; the still was a bonus
        extended = await settle(client, await start_job(client, "extend_video", {
            "source": {"job_id": source["job_id"]}, "prompt": "the kite dives", "provider": "seedance",
            "model": "seedance-2.0", "duration_s": 4, "resolution": "480p"}))
    assert extended["status"] == "succeeded", extended
    assert "own still" not in " ".join(extended["notes"])  # extracted from the video instead
