"""xAI Grok Imagine through the MCP tools (in-memory client) against the loopback xAI emulator:
generate_video gives a probed file; estimate_cost quotes from the catalog without a request;
extend_video uses xAI's native extension and takes its whole lengthened clip as the result (the
catalog's `extend_output: full`); cancel_job ends the job here (xAI has no cancel endpoint, so
nothing is sent); create faults end in definite job states."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("xai")  # the rest of this module needs its package
from adapter_helpers import job_after_create_fault, settle, start_job
from client_utils import make_client
from emulators.xai import XaiEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings

GROK = {"provider": "xai", "model": "grok-imagine-video", "prompt": "a kite over the dunes", "duration_s": 2}


@pytest.fixture
def emu() -> Iterator[XaiEmulator]:
    with XaiEmulator() as emulator:
        yield emulator


@pytest.fixture
def xai_settings(settings: Settings, emu: XaiEmulator) -> Settings:
    return settings.with_provider_env(XAI_API_KEY=emu.api_key, XAI_BASE_URL=emu.url + "/v1")


async def test_generate_video_gives_a_probed_file(emu, xai_settings):
    async with make_client(xai_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**GROK, "resolution": "720p"}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 48 and info.duration_s == pytest.approx(2, abs=0.1)
    assert job["quote_usd"] == pytest.approx(0.14) and job["cost_usd"] == pytest.approx(0.14)
    assert emu.count("create") == 1 and emu.count("download") == 1


async def test_image_to_video_on_1_5_from_a_local_file(emu, xai_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "teal")
    async with make_client(xai_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            **GROK, "model": "grok-imagine-video-1.5", "image": str(image), "confirm": True}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 48
    assert emu.requests_to("create")[0].json["image"]["url"].startswith("data:image/png;base64,")


async def test_estimate_cost_sends_nothing(emu, xai_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "teal")
    async with make_client(xai_settings) as client:
        result = await client.call_tool("estimate_cost", {"request": {
            **GROK, "model": "grok-imagine-video-1.5", "image": str(image), "duration_s": 10, "resolution": "1080p"}})
    assert not result.is_error, result.content[0].text
    quote = result.structured_content["quotes"][0]
    assert quote["usd"] == pytest.approx(2.50) and quote["estimate"] is True
    assert emu.requests == []


async def test_refusals_before_anything_is_sent(emu, xai_settings):
    async with make_client(xai_settings) as client:
        text_only = await client.call_tool("generate_video", {"request": {**GROK, "model": "grok-imagine-video-1.5"}})
        too_long = await client.call_tool("generate_video", {"request": {**GROK, "duration_s": 20}})
    assert text_only.is_error and "image" in text_only.content[0].text
    assert too_long.is_error and "duration_s" in too_long.content[0].text
    assert emu.requests == []


@pytest.mark.slow
async def test_extend_takes_the_whole_natively_extended_clip(emu, xai_settings):
    async with make_client(xai_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", {**GROK, "duration_s": 3}))
        extended = await settle(client, await start_job(client, "extend_video", {
            "source": {"job_id": source["job_id"]}, "prompt": "the kite climbs higher", "duration_s": 2,
            "provider": "xai"}))
    assert extended["status"] == "succeeded", extended
    before, after = probe(source["output"]["path"]), probe(extended["output"]["path"])
    assert after.duration_s == pytest.approx(before.duration_s + 2, abs=0.15)  # xAI's clip as it is, no join
    assert emu.count("create") == 1 and emu.count("extend") == 1
    assert emu.requests_to("extend")[0].json["duration"] == 2


@pytest.mark.slow
async def test_cancel_job_ends_it_here_and_sends_nothing(emu, xai_settings):
    emu.hold_jobs = True
    async with make_client(xai_settings) as client:
        job_id = await start_job(client, "generate_video", GROK)
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
async def test_create_faults_end_in_definite_states(emu, xai_settings, fault, status, code):
    job = await job_after_create_fault(xai_settings, emu, GROK, fault)
    assert job["status"] == status and job["error"]["code"] == code, job
