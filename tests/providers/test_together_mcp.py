"""Together AI through the MCP tools (in-memory client) against the loopback emulator: generate_video gives a
probed, playable file with the cost Together reported; estimate_cost quotes the catalog's estimate with no
request; cancel_job ends the job here (Together has no cancel endpoint, so nothing is sent); faults end in
definite job states."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("together")  # the rest of this module needs its package
from adapter_helpers import COMMON_CREATE_FAULTS, job_after_create_fault, settle, start_job
from client_utils import make_client
from emulators.together import TogetherEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings

DIRECTOR = {"provider": "together", "model": "video-01-director", "prompt": "a kite over the dunes"}


@pytest.fixture
def emu() -> Iterator[TogetherEmulator]:
    with TogetherEmulator() as emulator:
        yield emulator


@pytest.fixture
def tg_settings(settings: Settings, emu: TogetherEmulator) -> Settings:
    return settings.with_provider_env(TOGETHER_API_KEY=emu.api_key, TOGETHER_BASE_URL=emu.url)


@pytest.mark.slow
async def test_generate_video_records_the_charged_cost(emu, tg_settings):
    async with make_client(tg_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**DIRECTOR, "seed": 5}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 120 and info.duration_s == pytest.approx(5, abs=0.1)
    assert job["quote_usd"] == pytest.approx(0.28) and job["cost_usd"] == pytest.approx(0.28)
    assert emu.count("create") == 1 and emu.requests_to("create")[0].json["seed"] == 5


async def test_image_to_video_from_a_local_file(emu, tg_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "teal")
    async with make_client(tg_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "together", "model": "kling-2.1-standard", "image": str(image), "aspect_ratio": "1:1"}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 120
    body = emu.requests_to("create")[0].json
    assert (body["width"], body["height"]) == (1080, 1080) and "prompt" not in body
    assert body["media"]["frame_images"][0]["frame"] == "first"


async def test_estimate_cost_sends_nothing(emu, tg_settings):
    async with make_client(tg_settings) as client:
        result = await client.call_tool("estimate_cost", {"request": {
            "provider": "together", "model": "veo-3.0-audio", "prompt": "x", "audio": True}})
    quote = result.structured_content["quotes"][0]
    assert quote["usd"] == pytest.approx(3.20) and quote["estimate"] is True
    assert emu.requests == []


async def test_refusals_before_anything_is_sent(emu, tg_settings):
    async with make_client(tg_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**DIRECTOR, "aspect_ratio": "9:16"}})
    assert result.is_error and "aspect_ratio" in result.content[0].text
    assert emu.requests == []


@pytest.mark.parametrize(("fault", "status", "code"), COMMON_CREATE_FAULTS)
async def test_create_faults_end_in_definite_states(emu, tg_settings, fault, status, code):
    job = await job_after_create_fault(tg_settings, emu, DIRECTOR, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


@pytest.mark.slow
async def test_moderation_failure_and_expired_link(emu, tg_settings):
    emu.inject("download", status=403)  # the short link expired before we fetched it
    async with make_client(tg_settings) as client:
        ok = await settle(client, await start_job(client, "generate_video", DIRECTOR))
        emu.fail_next = ("content_policy_violation", "The prompt was flagged")
        failed = await settle(client, await start_job(client, "generate_video", {**DIRECTOR, "prompt": "a storm"}))
    assert ok["status"] == "succeeded" and probe(ok["output"]["path"]).frames == 120 and emu.count("download") == 2
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation"
    assert "content_policy_violation" in failed["error"]["message"]


@pytest.mark.slow
async def test_cancel_job_ends_it_here_without_a_request(emu, tg_settings):
    emu.hold_jobs = True
    async with make_client(tg_settings) as client:
        job_id = await start_job(client, "generate_video", DIRECTOR)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        result = await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", (job, result.content[0].text)
    assert {r.route for r in emu.requests} == {"create", "poll"}  # no cancel route exists to call
