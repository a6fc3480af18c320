"""MiniMax through the MCP tools (in-memory client) against the loopback emulator.

Covers the issue's "done when" for MiniMax: text-to-video, image-to-video from a local file,
extend and loop (MiniMax has neither natively: last-frame extend and loop-point fallback) give
probed, playable files; injected faults end in definite job states with actionable messages; and a
server stopped during submit, poll and download ends each job with exactly one create request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from provider_utils import require_provider

require_provider("minimax")  # the rest of this module needs its package
from emulators.minimax import API_KEY, MiniMaxEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client, settle, start_job, until

MODEL = {"provider": "minimax", "model": "hailuo-02", "prompt": "a lighthouse at dusk"}


@pytest.fixture
def emu() -> Iterator[MiniMaxEmulator]:
    with MiniMaxEmulator() as emulator:
        yield emulator


@pytest.fixture
def mm_settings(settings: Settings, emu: MiniMaxEmulator) -> Settings:
    return settings.with_provider_env(MINIMAX_API_KEY=API_KEY, MINIMAX_API_HOST=emu.url).model_copy(
        update={"allow_private_urls": True})


async def test_text_to_video_through_generate_video(emu, mm_settings):
    emu.inject("download", status=403)  # the first link has expired: the studio reads the task again
    async with make_client(mm_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**MODEL, "camera_move": "push_in"}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 24
    assert job["quote_usd"] == pytest.approx(0.28)
    (create,) = emu.requests_to("create")
    assert create.json["prompt"] == "[Push in] a lighthouse at dusk" and create.json["resolution"] == "768P"
    assert emu.count("download") == 2 and emu.count("retrieve") == 2


async def test_image_to_video_from_a_local_file(emu, mm_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "teal")
    async with make_client(mm_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "minimax", "model": "hailuo-2.3-fast", "image": str(image)}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 24
    assert emu.requests_to("create")[0].json["first_frame_image"].startswith("data:image/png;base64,")


@pytest.mark.slow
async def test_extend_uses_the_last_frame_path(emu, mm_settings):
    async with make_client(mm_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", MODEL))
        extended = await settle(client, await start_job(client, "extend_video", {
            **MODEL, "prompt": "the light turns on", "source": {"job_id": source["job_id"]}}))
    assert extended["status"] == "succeeded", extended
    creates = emu.requests_to("create")
    assert len(creates) == 2 and creates[1].json["first_frame_image"].startswith("data:image/png;base64,")
    assert probe(extended["output"]["path"]).duration_s > probe(source["output"]["path"]).duration_s


@pytest.mark.slow
async def test_make_loop_falls_back_to_a_loop_of_the_generated_clip(emu, mm_settings):
    async with make_client(mm_settings) as client:
        job = await settle(client, await start_job(client, "make_loop", {"generate": MODEL}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames > 0
    assert emu.count("create") == 1


@pytest.mark.parametrize(
    ("inject", "status", "code"),
    [({"code": 1008, "msg": "insufficient balance"}, "failed", "insufficient_credits"),
     ({"code": 1026, "msg": "input new_sensitive"}, "failed", "moderation"),
     ({"code": 2049, "msg": "invalid api key"}, "failed", "auth_failed"),
     ({"status": 502}, "unknown", "outcome_unknown")],
)
async def test_create_faults_end_in_definite_states(emu, mm_settings, inject, status, code):
    if "code" in inject:
        emu.inject_code("create", inject["code"], inject["msg"])
    else:
        emu.inject("create", **inject)
    async with make_client(mm_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", MODEL))
    assert job["status"] == status and job["error"]["code"] == code, job
    assert emu.count("create") == 1


@pytest.mark.slow
async def test_poll_faults_and_a_failed_task(emu, mm_settings):
    emu.inject("poll", status=429, retry_after=0.05)
    emu.inject("poll", status=503)
    emu.inject_code("poll", 1002, "rate limit exceeded")
    async with make_client(mm_settings) as client:
        ok = await settle(client, await start_job(client, "generate_video", MODEL))
        emu.fail_next = ("1027", "output video sensitive")
        # A different prompt: the same request again would re-attach to the first job (idempotency).
        failed = await settle(client, await start_job(client, "generate_video", {**MODEL, "prompt": "a storm"}))
    assert ok["status"] == "succeeded" and probe(ok["output"]["path"]).frames == 24
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation"
    assert "Rephrase" in failed["error"]["message"] + (failed["error"].get("hint") or "")


@pytest.mark.slow
async def test_server_stopped_during_submit_keeps_the_answer_and_never_resubmits(emu, mm_settings):
    """A graceful stop waits for the in-flight create (shielded) so its task id is kept; the restarted
    server resumes from it. (A hard kill mid-submit ends `unknown`: test_provider_kill.py.)"""
    emu.inject("create", delay_s=1.0)  # the create reaches MiniMax; the server stops before the answer
    async with make_client(mm_settings) as client:
        job_id = await start_job(client, "generate_video", MODEL)
        await until(lambda: emu.count("create") == 1)
    async with make_client(mm_settings) as client:
        job = await settle(client, job_id)
    assert job["status"] == "succeeded", job
    assert emu.count("create") == 1


async def test_server_stopped_during_poll_resumes_from_the_stored_task_id(emu, mm_settings):
    emu.hold_jobs = True
    async with make_client(mm_settings) as client:
        job_id = await start_job(client, "generate_video", MODEL)
        await until(lambda: emu.count("poll") >= 2)
    for job in emu.jobs.values():
        job.held = False
    async with make_client(mm_settings) as client:
        job = await settle(client, job_id)
    assert job["status"] == "succeeded" and probe(job["output"]["path"]).frames == 24
    assert emu.count("create") == 1


@pytest.mark.slow
async def test_server_stopped_during_download_finishes_after_restart(emu, mm_settings):
    emu.inject("download", chunk_pause_s=0.3)
    async with make_client(mm_settings) as client:
        job_id = await start_job(client, "generate_video", MODEL)
        await until(lambda: emu.count("download") == 1)
    async with make_client(mm_settings) as client:
        job = await settle(client, job_id)
    assert job["status"] == "succeeded" and probe(job["output"]["path"]).frames == 24
    assert emu.count("create") == 1 and emu.count("download") == 2


async def test_estimate_compare_lists_minimax_and_replicate_models(mm_settings):
    """Quoting runs every adapter's normalize hook; MiniMax's 10 s is refused at 1080p."""
    both = mm_settings.with_provider_env(REPLICATE_API_TOKEN="r8_test")  # compare skips keyless providers
    async with make_client(both) as client:
        result = await client.call_tool("estimate_cost", {"request": {"prompt": "a lighthouse", "duration_s": 6},
                                                          "compare": True})
        quotes = {(q["provider"], q["model"]): q for q in result.structured_content["quotes"]}
        bad = await client.call_tool("estimate_cost", {"request": {**MODEL, "duration_s": 10, "resolution": "1080p"}})
        image = make_image(Path.cwd() / "first.png", (320, 180), "teal")
        small = await client.call_tool("estimate_cost", {"request": {
            **MODEL, "duration_s": 10, "resolution": "512p", "image": str(image)}})
    assert quotes[("minimax", "hailuo-02")]["usd"] == pytest.approx(0.28)
    assert ("replicate", "minimax-video-01") in quotes and quotes[("replicate", "minimax-video-01")]["estimate"]
    assert bad.is_error and "duration_s" in bad.content[0].text
    assert small.structured_content["quotes"][0]["usd"] == pytest.approx(0.15)  # 512P 10 s has its own price
