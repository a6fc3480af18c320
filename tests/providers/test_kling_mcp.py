"""Kling through the MCP tools (in-memory client) against the loopback emulator: a probed clip from
generate_video, quotes from estimate_cost, cancel_job on a provider without a cancel endpoint, and
create faults that end in definite job states."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("kling")  # the rest of this module needs its package
from adapter_helpers import job_after_create_fault, settle, start_job
from client_utils import make_client
from emulators.kling import ACCESS_KEY, SECRET_KEY, KlingEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings

TURBO = {"provider": "kling", "model": "kling-v2-5-turbo", "prompt": "a kite over the dunes", "duration_s": 5}


@pytest.fixture
def emu() -> Iterator[KlingEmulator]:
    with KlingEmulator() as emulator:
        yield emulator


@pytest.fixture
def kl_settings(settings: Settings, emu: KlingEmulator) -> Settings:
    return settings.with_provider_env(KLING_ACCESS_KEY=ACCESS_KEY, KLING_SECRET_KEY=SECRET_KEY, KLING_BASE_URL=emu.url)


async def test_generate_video_gives_a_probed_clip_and_the_quote(emu, kl_settings):
    async with make_client(kl_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**TURBO, "resolution": "1080p"}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 120 and info.duration_s == pytest.approx(5, abs=0.1)
    assert job["quote_usd"] == pytest.approx(0.35)
    assert emu.count("create") == 1 and emu.requests_to("create")[0].json["mode"] == "pro"


async def test_image_to_video_from_a_local_file(emu, kl_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (640, 360), "teal")
    async with make_client(kl_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "kling", "model": "kling-v2-1", "image": str(image), "duration_s": 5}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 120
    assert emu.requests_to("create")[0].path == "/v1/videos/image2video"


async def test_estimate_cost_sends_nothing(emu, kl_settings):
    async with make_client(kl_settings) as client:
        loud = await client.call_tool("estimate_cost", {"request": {
            "provider": "kling", "model": "kling-v2-6", "prompt": "x", "duration_s": 10, "resolution": "1080p",
            "audio": True}})
    quote = loud.structured_content["quotes"][0]
    assert quote["usd"] == pytest.approx(1.40) and quote["estimate"] is True  # (0.07 + 0.07) x 10 s
    assert emu.requests == []


async def test_refusals_before_anything_is_sent(emu, kl_settings):
    async with make_client(kl_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**TURBO, "audio": True}})
    assert result.is_error and "audio" in result.content[0].text
    assert emu.requests == []


@pytest.mark.parametrize(("fault", "status", "code"), [
    ({"status": 429, "body": {"code": 1102, "message": "resource pack depleted", "request_id": "r"}}, "failed",
     "insufficient_credits"),
    ({"status": 401}, "failed", "auth_failed"),
    ({"status": 429, "retry_after": 90}, "failed", "rate_limited"),
    ({"status": 500}, "unknown", "outcome_unknown"),
])
async def test_create_faults_end_in_definite_states(emu, kl_settings, fault, status, code):
    job = await job_after_create_fault(kl_settings, emu, TURBO, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


async def test_moderation_failure_of_the_task(emu, kl_settings):
    emu.fail_next = ("failed", "Failure to pass the risk control system")
    async with make_client(kl_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", TURBO))
    assert job["status"] == "failed" and job["error"]["code"] == "moderation", job


@pytest.mark.slow
async def test_cancel_job_stops_following_a_task_kling_cannot_cancel(emu, kl_settings):
    emu.hold_jobs = True
    async with make_client(kl_settings) as client:
        job_id = await start_job(client, "generate_video", TURBO)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        result = await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", (job, result.content[0].text)
    assert {r.route for r in emu.requests} <= {"create", "poll"}  # no cancel call exists to make
    assert emu.count("create") == 1
