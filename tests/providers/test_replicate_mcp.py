"""Replicate through the MCP tools (in-memory client) against the loopback emulator.

Text-to-video, image-to-video from a local file, extend and loop (last-frame and loop fallbacks:
no Replicate model here has them natively) give probed files; faults end in definite states; a
server stopped during submit, poll and download ends each job with exactly one create request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider_utils import require_provider

require_provider("replicate")  # the rest of this module needs its package
from emulators.replicate import TOKEN, ReplicateEmulator
from media_utils import make_image
from adapter_helpers import job_after_create_fault
from client_utils import settle, start_job
from client_utils import until

from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client

VIDEO_01 = {"provider": "replicate", "model": "minimax-video-01", "prompt": "a paper boat on a river"}


@pytest.fixture
def emu() -> Iterator[ReplicateEmulator]:
    with ReplicateEmulator() as emulator:
        yield emulator


@pytest.fixture
def rep_settings(settings: Settings, emu: ReplicateEmulator) -> Settings:
    return settings.with_provider_env(REPLICATE_API_TOKEN=TOKEN, REPLICATE_BASE_URL=emu.url).model_copy(
        update={"allow_private_urls": True})


async def test_text_to_video_official_model(emu, rep_settings):
    emu.inject("download", status=403)  # the first link has expired: the studio reads the prediction again
    async with make_client(rep_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", VIDEO_01))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 24
    assert emu.requests_to("create")[0].path == "/v1/models/minimax/video-01/predictions"
    assert emu.count("create") == 1 and emu.count("download") == 2


async def test_image_to_video_from_a_local_file_with_frame_note(emu, rep_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "orange")
    async with make_client(rep_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "replicate", "model": "wan-2.2-i2v-fast", "prompt": "slow zoom", "image": str(image),
            "duration_s": 5}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 24
    assert any("81 frames at 16 fps" in note for note in job["notes"]), job["notes"]
    inputs = emu.requests_to("create")[0].json["input"]
    assert inputs["image"].startswith("data:image/png;base64,") and inputs["num_frames"] == 81


@pytest.mark.slow
async def test_extend_uses_the_last_frame_path(emu, rep_settings):
    async with make_client(rep_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", VIDEO_01))
        extended = await settle(client, await start_job(client, "extend_video", {
            **VIDEO_01, "prompt": "the boat drifts on", "source": {"job_id": source["job_id"]}}))
    assert extended["status"] == "succeeded", extended
    creates = emu.requests_to("create")
    assert len(creates) == 2 and creates[1].json["input"]["first_frame_image"].startswith("data:image/png;base64,")
    assert probe(extended["output"]["path"]).duration_s > probe(source["output"]["path"]).duration_s


@pytest.mark.slow
async def test_make_loop_of_a_generated_clip(emu, rep_settings):
    async with make_client(rep_settings) as client:
        job = await settle(client, await start_job(client, "make_loop", {"generate": VIDEO_01}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames > 0 and emu.count("create") == 1


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [({"status": 402}, "failed", "insufficient_credits"), ({"status": 429, "retry_after": 30}, "failed", "rate_limited"),
     ({"status": 502}, "unknown", "outcome_unknown"), ({"drop": True, "process": True}, "unknown", "outcome_unknown")],
)
async def test_create_faults_end_in_definite_states(emu, rep_settings, fault, status, code):
    job = await job_after_create_fault(rep_settings, emu, VIDEO_01, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


async def test_moderation_failure_and_poll_faults(emu, rep_settings):
    emu.inject("poll", status=429, retry_after=0.05)
    emu.inject("poll", malformed=True)
    emu.fail_with("E005", "The input or output was flagged as sensitive.")
    async with make_client(rep_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", VIDEO_01))
    assert job["status"] == "failed" and job["error"]["code"] == "moderation", job


@pytest.mark.slow
async def test_server_stopped_during_submit_keeps_the_answer(emu, rep_settings):
    """A graceful stop lets the in-flight create finish (shielded) and keeps its id; a hard kill mid-submit
    ends `unknown` instead (test_provider_kill.py). Either way: exactly one create."""
    emu.inject("create", delay_s=1.0)
    async with make_client(rep_settings) as client:
        job_id = await start_job(client, "generate_video", VIDEO_01)
        await until(lambda: emu.count("create") == 1)
    async with make_client(rep_settings) as client:
        job = await settle(client, job_id)
    assert job["status"] == "succeeded" and emu.count("create") == 1


@pytest.mark.slow
async def test_server_stopped_during_poll_and_download_resumes(emu, rep_settings):
    emu.hold_jobs = True
    emu.inject("download", chunk_pause_s=0.3)
    async with make_client(rep_settings) as client:
        job_id = await start_job(client, "generate_video", VIDEO_01)
        await until(lambda: emu.count("poll") >= 2)
    for job in emu.jobs.values():
        job.held = False
    async with make_client(rep_settings) as client:  # restarted: polls, then starts the slow download
        await until(lambda: emu.count("download") == 1)
    async with make_client(rep_settings) as client:  # restarted again mid-download
        job = await settle(client, job_id)
    assert job["status"] == "succeeded" and probe(job["output"]["path"]).frames == 24
    assert emu.count("create") == 1 and emu.count("download") == 2


@pytest.mark.slow
async def test_cancel_during_submit_keeps_the_id_and_cancels_at_the_provider(emu, rep_settings):
    """cancel_job while the create is in flight: the create finishes (it may be billed), its id is kept,
    and the cancel is sent to Replicate: nothing is left running unseen."""
    emu.inject("create", delay_s=1.0)
    async with make_client(rep_settings) as client:
        job_id = await start_job(client, "generate_video", VIDEO_01)
        await until(lambda: emu.count("create") == 1)
        canceled = await client.call_tool("cancel_job", {"job_id": job_id})
        assert canceled.structured_content["status"] == "canceled"
    assert emu.count("create") == 1 and emu.count("cancel") == 1
