"""Google Veo through the MCP tools (in-memory client) against the loopback Gemini API emulator:
generate_video gives a probed file; estimate_cost prices audio in; cancel_job ends the job here
(the Gemini API has no cancel, so nothing is sent); faults end in definite states."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("veo")  # the rest of this module needs its package
from adapter_helpers import job_after_create_fault, settle, start_job
from client_utils import make_client
from emulators.veo import VeoEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings

FAST = {"provider": "veo", "model": "veo-3.1-fast-generate-preview", "prompt": "a kite over the dunes", "duration_s": 4}


@pytest.fixture
def emu() -> Iterator[VeoEmulator]:
    with VeoEmulator() as emulator:
        yield emulator


@pytest.fixture
def veo_settings(settings: Settings, emu: VeoEmulator) -> Settings:
    return settings.with_provider_env(GEMINI_API_KEY=emu.api_key, GOOGLE_GEMINI_BASE_URL=emu.url)


async def test_generate_video_gives_a_probed_file(emu, veo_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "teal")
    async with make_client(veo_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**FAST, "image": str(image)}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 96 and info.duration_s == pytest.approx(4, abs=0.1)
    assert job["quote_usd"] == pytest.approx(0.40)  # $0.10/s x 4 s, audio included
    body = emu.requests_to("create")[0].json
    assert body["instances"][0]["image"]["mimeType"] == "image/png" and emu.count("create") == 1


async def test_estimate_cost_prices_audio_in_and_sends_nothing(emu, veo_settings):
    async with make_client(veo_settings) as client:
        std = await client.call_tool("estimate_cost", {"request": {
            "provider": "veo", "model": "veo-3.1-generate-preview", "prompt": "x", "duration_s": 8, "resolution": "4k"}})
        silent = await client.call_tool("estimate_cost", {"request": {**FAST, "audio": False}})
    quote = std.structured_content["quotes"][0]
    assert quote["usd"] == pytest.approx(4.80) and quote["estimate"] is True  # $0.60/s at 4k
    assert silent.is_error and "audio" in silent.content[0].text  # Veo 3.x cannot be made silent
    assert emu.requests == []


async def test_refusals_before_anything_is_sent(emu, veo_settings):
    async with make_client(veo_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**FAST, "resolution": "1080p"}})
    assert result.is_error and "duration_s" in result.content[0].text  # 1080p is 8 s only
    assert emu.requests == []


@pytest.mark.slow
async def test_cancel_job_ends_it_here_and_sends_nothing(emu, veo_settings):
    emu.hold_jobs = True
    async with make_client(veo_settings) as client:
        job_id = await start_job(client, "generate_video", FAST)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", job
    assert {r.route for r in emu.requests} == {"create", "poll"}  # no cancel call exists to send


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [({"status": 401}, "failed", "auth_failed"), ({"status": 429, "retry_after": 90}, "failed", "rate_limited"),
     ({"status": 500}, "unknown", "outcome_unknown"), ({"malformed": True}, "unknown", "outcome_unknown")],
)
async def test_create_faults_end_in_definite_states(emu, veo_settings, fault, status, code):
    job = await job_after_create_fault(veo_settings, emu, FAST, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


@pytest.mark.slow
async def test_poll_faults_then_moderation(emu, veo_settings):
    emu.inject("poll", status=429, retry_after_ms=30, times=2)
    emu.inject("poll", status=503)
    async with make_client(veo_settings) as client:
        ok = await settle(client, await start_job(client, "generate_video", FAST))
        emu.filter_next = True
        filtered = await settle(client, await start_job(client, "generate_video", {**FAST, "prompt": "a storm"}))
    assert ok["status"] == "succeeded" and probe(ok["output"]["path"]).frames == 96
    assert filtered["status"] == "failed" and filtered["error"]["code"] == "moderation"
