"""fal through the MCP tools (in-memory client) against the loopback emulator: generate_video with the
output probed, a local first frame uploaded through fal storage, reference images from options,
estimate_cost, cancel_job, and faults ending in definite job states.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("fal")  # the rest of this module needs its package
from adapter_helpers import settle, start_job
from client_utils import make_client
from emulators.fal import FalEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings

VEO = {"provider": "fal", "model": "veo3.1-fast", "prompt": "a kite over the dunes", "duration_s": 4}


@pytest.fixture
def emu() -> Iterator[FalEmulator]:
    with FalEmulator() as emulator:
        yield emulator


@pytest.fixture
def fal_settings(settings: Settings, emu: FalEmulator) -> Settings:
    return settings.with_provider_env(FAL_KEY=emu.api_key, FAL_QUEUE_RUN_HOST=emu.url, FAL_REST_URL=emu.url)


async def test_text_to_video_probed(emu, fal_settings):
    async with make_client(fal_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**VEO, "seed": 5, "wait_seconds": 30}})
        job = await settle(client, result.structured_content["job_id"])
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 24 and info.duration_s == pytest.approx(1.0, abs=0.1)
    assert job["quote_usd"] == pytest.approx(0.40)  # $0.10/s x 4 s, silent
    body = emu.requests_to("create")[0].json
    assert emu.count("create") == 1 and body["seed"] == 5 and body["duration"] == "4s" and body["generate_audio"] is False


async def test_image_to_video_from_a_local_file(emu, fal_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "teal")
    async with make_client(fal_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "fal", "model": "kling-v2.1-pro", "prompt": "slow push in", "image": str(image)}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 24
    body = emu.requests_to("create")[0].json
    assert emu.uploads[body["image_url"]] == image.read_bytes() and body["duration"] == "5"


async def test_reference_images_through_options(emu, fal_settings, tmp_path):
    hero = make_image(tmp_path / "hero.png", (320, 180), "orange")
    async with make_client(fal_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "fal", "model": "seedance-2.0", "prompt": "[Image1] walks in", "resolution": "480p",
            "options": {"references": [str(hero)]}}))
    assert job["status"] == "succeeded", job
    create = emu.requests_to("create")[0]
    assert create.path == "/bytedance/seedance-2.0/reference-to-video"
    assert emu.uploads[create.json["image_urls"][0]] == hero.read_bytes()


async def test_estimate_cost_sends_nothing(emu, fal_settings):
    async with make_client(fal_settings) as client:
        veo = await client.call_tool("estimate_cost", {"request": {**VEO, "duration_s": 8, "audio": True}})
        kling = await client.call_tool("estimate_cost", {"request": {
            "provider": "fal", "model": "kling-v3-pro", "prompt": "x", "duration_s": 10}})
    assert veo.structured_content["quotes"][0]["usd"] == pytest.approx(1.20)  # (0.10 + 0.05) x 8 s
    quote = kling.structured_content["quotes"][0]
    assert quote["usd"] == pytest.approx(1.12) and quote["estimate"] is True
    assert emu.requests == []


async def test_refusals_before_anything_is_sent(emu, fal_settings):
    async with make_client(fal_settings) as client:
        ratio = await client.call_tool("generate_video", {"request": {**VEO, "aspect_ratio": "4:3"}})
        option = await client.call_tool("generate_video", {"request": {**VEO, "options": {"bogus": 1}}})
    assert ratio.is_error and "aspect_ratio" in ratio.content[0].text
    assert option.is_error and "options" in option.content[0].text
    assert emu.requests == []


@pytest.mark.parametrize(("fault", "status", "code"), [
    ({"status": 403, "body": {"detail": "User is locked. Reason: Exhausted balance."}}, "failed", "insufficient_credits"),
    ({"status": 401}, "failed", "auth_failed"),
    ({"status": 429, "retry_after": 90}, "failed", "rate_limited"),
    ({"status": 502}, "unknown", "outcome_unknown"),
    ({"malformed": True}, "unknown", "outcome_unknown"),
])
async def test_submit_faults_end_in_definite_states(emu, fal_settings, fault, status, code):
    emu.inject("create", **fault)
    async with make_client(fal_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", VEO))
    assert job["status"] == status and job["error"]["code"] == code, job
    assert emu.count("create") == 1


async def test_moderation_and_expired_link(emu, fal_settings):
    emu.inject("download", status=403)  # the first link expired before we fetched it
    async with make_client(fal_settings) as client:
        ok = await settle(client, await start_job(client, "generate_video", VEO))
        emu.fail_next = ("content_policy_violation", "The content was flagged by a content checker.")
        failed = await settle(client, await start_job(client, "generate_video", {**VEO, "prompt": "a storm"}))
    assert ok["status"] == "succeeded" and probe(ok["output"]["path"]).frames == 24 and emu.count("download") == 2
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation"


@pytest.mark.slow
async def test_cancel_job_cancels_the_request(emu, fal_settings):
    emu.hold_jobs = True
    async with make_client(fal_settings) as client:
        job_id = await start_job(client, "generate_video", VEO)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        result = await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", (job, result.content[0].text)
    (cancel,) = emu.requests_to("cancel")
    assert cancel.method == "PUT" and next(iter(emu.jobs.values())).canceled
