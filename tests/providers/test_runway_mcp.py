"""Runway through the MCP tools (in-memory client) against the loopback emulator.

The issue's "done when" for Runway: text-to-video, image-to-video from a local file, extend (Runway
has no native extend: last frame -> image-to-video -> join) and loop (no native loop: fallback on
the generated clip) give probed, playable files; injected faults end in definite job states with
actionable messages.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("runway")  # the rest of this module needs its package
from adapter_helpers import job_after_create_fault, settle, start_job
from emulators.runway import RunwayEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client

GEN45 = {"provider": "runway", "model": "gen4.5", "prompt": "a kite over the dunes", "duration_s": 2}


@pytest.fixture
def emu() -> Iterator[RunwayEmulator]:
    with RunwayEmulator() as emulator:
        yield emulator


@pytest.fixture
def rw_settings(settings: Settings, emu: RunwayEmulator) -> Settings:
    return settings.with_provider_env(RUNWAYML_API_SECRET=emu.api_key, RUNWAYML_BASE_URL=emu.url)


@pytest.mark.slow
async def test_text_to_video(emu, rw_settings):
    progress: list[float] = []

    async def on_progress(p, total, message) -> None:
        progress.append(p)

    async with make_client(rw_settings) as client:
        result = await client.call_tool(
            "generate_video", {"request": {**GEN45, "seed": 5, "wait_seconds": 30}}, progress_callback=on_progress
        )
        job = await settle(client, result.structured_content["job_id"])
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 48
    assert job["quote_usd"] == pytest.approx(0.24) and job["cost_usd"] == pytest.approx(0.24)
    assert emu.count("create") == 1 and emu.requests_to("create")[0].json["seed"] == 5
    assert progress == sorted(progress)


async def test_image_to_video_from_a_local_file(emu, rw_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "teal")
    async with make_client(rw_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "runway", "model": "gen4_turbo", "image": str(image), "duration_s": 2, "aspect_ratio": "4:3"}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 48
    body = emu.requests_to("create")[0].json
    assert body["ratio"] == "1104:832" and body["promptImage"].startswith("data:image/png;base64,")


@pytest.mark.slow
async def test_extend_uses_the_last_frame_path(emu, rw_settings):
    async with make_client(rw_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", GEN45))
        extended = await settle(client, await start_job(client, "extend_video", {
            **GEN45, "prompt": "the kite climbs", "source": {"job_id": source["job_id"]}}))
    assert extended["status"] == "succeeded", extended
    creates = emu.requests_to("create")
    assert [c.path for c in creates] == ["/v1/text_to_video", "/v1/image_to_video"]
    assert creates[1].json["promptImage"].startswith("data:image/png;base64,")
    assert probe(extended["output"]["path"]).duration_s > probe(source["output"]["path"]).duration_s


@pytest.mark.slow
async def test_make_loop_falls_back_on_the_generated_clip(emu, rw_settings):
    async with make_client(rw_settings) as client:
        job = await settle(client, await start_job(client, "make_loop", {"generate": GEN45}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames > 0 and emu.count("create") == 1
    assert "loop" not in emu.requests_to("create")[0].json


async def test_refusals_before_anything_is_sent(emu, rw_settings):
    async with make_client(rw_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**GEN45, "aspect_ratio": "4:3"}})
    assert result.is_error and "aspect_ratio" in result.content[0].text
    assert emu.requests == []


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"status": 400, "body": {"error": "You do not have enough credits to run this task."}}, "failed", "insufficient_credits"),
        ({"status": 401}, "failed", "auth_failed"),
        ({"status": 429, "retry_after": 90}, "failed", "rate_limited"),
        ({"status": 502}, "unknown", "outcome_unknown"),
        ({"malformed": True}, "unknown", "outcome_unknown"),
    ],
)
async def test_create_faults_end_in_definite_states(emu, rw_settings, fault, status, code):
    job = await job_after_create_fault(rw_settings, emu, GEN45, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


@pytest.mark.slow
async def test_poll_faults_then_moderation_failure(emu, rw_settings):
    emu.inject("poll", status=429, retry_after_ms=30, times=2)
    emu.inject("poll", status=500)
    emu.inject("poll", malformed=True)
    async with make_client(rw_settings) as client:
        ok = await settle(client, await start_job(client, "generate_video", GEN45))
        emu.fail_next = ("SAFETY.INPUT.TEXT", "The prompt was flagged")
        failed = await settle(client, await start_job(client, "generate_video", {**GEN45, "prompt": "a storm"}))
    assert ok["status"] == "succeeded" and probe(ok["output"]["path"]).frames == 48
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation"
    assert "SAFETY.INPUT.TEXT" in failed["error"]["message"]


async def test_expired_link_and_slow_download(emu, rw_settings):
    emu.inject("download", status=403)  # the signed link expired before we fetched it
    emu.inject("download", chunk_pause_s=0.002)
    async with make_client(rw_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", GEN45))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 48 and emu.count("download") == 2


@pytest.mark.slow
async def test_cancel_job_cancels_the_task(emu, rw_settings):
    emu.hold_jobs = True
    async with make_client(rw_settings) as client:
        job_id = await start_job(client, "generate_video", GEN45)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        result = await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", (job, result.content[0].text)
    assert emu.count("cancel") == 1 and next(iter(emu.jobs.values())).canceled


@pytest.mark.slow
async def test_status_reads_that_keep_failing_say_the_task_may_still_run(emu, rw_settings):
    emu.inject("poll", status=500, times=1000)
    patient_for_a_second = rw_settings.model_copy(update={"max_poll_seconds": 1.0})
    async with make_client(patient_for_a_second) as client:
        job = await settle(client, await start_job(client, "generate_video", GEN45))
    assert job["status"] == "failed" and job["error"]["code"] == "provider_failed", job
    remote_id = next(iter(emu.jobs))
    assert remote_id in job["error"]["message"] and "may still be running" in job["error"]["message"]
    assert emu.count("create") == 1


async def test_quotes_include_audio(emu, rw_settings):
    async with make_client(rw_settings) as client:
        veo = await client.call_tool("estimate_cost", {"request": {
            "provider": "runway", "model": "veo3.1", "prompt": "x", "duration_s": 8, "audio": True}})
    assert veo.structured_content["quotes"][0]["usd"] == pytest.approx(3.20)  # (0.20 + 0.20) x 8 s
    assert emu.requests == []
