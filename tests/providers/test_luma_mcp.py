"""Luma through the MCP tools (in-memory client) against the loopback emulator.

The issue's "done when" for Luma: text-to-video; image-to-video from a local file (ray-3.2, since
the Dream Machine API takes only image URLs, which the tools refuse with what to do instead);
native extend (keyframe = the earlier generation) and native loop (`loop: true`) give probed,
playable files; injected faults end in definite job states with actionable messages.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("luma")  # the rest of this module needs its package
from adapter_helpers import job_after_create_fault, settle, start_job
from emulators.luma import LumaEmulator
from media_utils import make_image

from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client

RAY2 = {"provider": "luma", "model": "ray-2", "prompt": "a paper boat on a pond", "resolution": "540p"}
RAY32 = {"provider": "luma", "model": "ray-3.2", "prompt": "a lantern drifting", "resolution": "540p"}


@pytest.fixture
def emu() -> Iterator[LumaEmulator]:
    with LumaEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def luma_settings(settings: Settings, emu: LumaEmulator) -> Settings:
    return settings.with_provider_env(
        LUMAAI_API_KEY=emu.api_key, LUMAAI_BASE_URL=emu.dream_machine_url, LUMA_AGENTS_BASE_URL=emu.agents_url,
    )  # fmt: skip


async def test_text_to_video_with_a_camera_concept(emu, luma_settings):
    async with make_client(luma_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**RAY2, "camera_move": "crane_up"}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 120
    assert job["progress"] in (None, 1.0)  # Luma reports no progress; none was invented on the way
    assert emu.requests_to("create")[0].json["concepts"] == [{"key": "crane_up"}]
    # ray-2 540p 5 s at $0.0064 per million output pixels (a derived, estimated price).
    assert job["quote_usd"] == pytest.approx(0.0064 * 960 * 540 / 1e6 * 120, rel=0.01)


async def test_image_to_video_from_a_local_file_on_ray32(emu, luma_settings, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "gold")
    async with make_client(luma_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**RAY32, "image": str(image)}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames == 120
    start_frame = emu.requests_to("create")[0].json["video"]["start_frame"]
    assert start_frame["media_type"] == "image/png" and start_frame["data"]


async def test_local_image_on_ray2_is_refused_with_what_to_do(emu, luma_settings, tmp_path):
    image = make_image(tmp_path / "first.png")
    async with make_client(luma_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**RAY2, "image": str(image)}})
    assert result.is_error
    assert "public HTTPS image URL" in result.content[0].text and "ray-3.2" in result.content[0].text
    assert emu.requests == []


@pytest.mark.slow
@pytest.mark.parametrize("base", [RAY2, RAY32], ids=["ray-2", "ray-3.2"])
async def test_native_extend_continues_the_generation(emu, luma_settings, base):
    async with make_client(luma_settings) as client:
        source = await settle(client, await start_job(client, "generate_video", base))
        extended = await settle(client, await start_job(client, "extend_video", {
            **base, "prompt": "the journey continues", "source": {"job_id": source["job_id"]}}))
    assert extended["status"] == "succeeded", extended
    first, second = (r.json for r in emu.requests_to("create"))
    source_remote_id = next(iter(emu.jobs))
    if base is RAY2:
        assert second["keyframes"] == {"frame0": {"type": "generation", "id": source_remote_id}}
    else:
        assert second["video"]["start_frame"] == {"generation_id": source_remote_id}
    assert probe(extended["output"]["path"]).duration_s > probe(source["output"]["path"]).duration_s


async def test_make_loop_uses_the_native_loop(emu, luma_settings):
    async with make_client(luma_settings) as client:
        job = await settle(client, await start_job(client, "make_loop", {"generate": RAY2}))
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).frames >= 120
    assert emu.requests_to("create")[0].json["loop"] is True and emu.count("create") == 1


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"status": 400, "body": {"detail": "Insufficient credits"}}, "failed", "insufficient_credits"),
        ({"status": 401}, "failed", "auth_failed"),
        ({"status": 422, "body": {"detail": [{"loc": ["body", "prompt"], "msg": "too long"}]}}, "failed", "bad_request"),
        ({"drop": True, "process": True}, "unknown", "outcome_unknown"),
    ],
)
async def test_create_faults_end_in_definite_states(emu, luma_settings, fault, status, code):
    job = await job_after_create_fault(luma_settings, emu, RAY2, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


@pytest.mark.slow
async def test_poll_faults_then_a_moderated_generation(emu, luma_settings):
    emu.inject("poll", status=503, retry_after=0.05)
    emu.inject("poll", delay_s=0.01, malformed=True)
    async with make_client(luma_settings) as client:
        ok = await settle(client, await start_job(client, "generate_video", RAY32))
        emu.fail_next = ("content_moderated", "The prompt was rejected")
        failed = await settle(client, await start_job(client, "generate_video", {**RAY32, "prompt": "a storm"}))
    assert ok["status"] == "succeeded" and probe(ok["output"]["path"]).frames == 120
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation"


async def test_ray32_quotes_follow_resolution_and_duration(emu, luma_settings):
    async with make_client(luma_settings) as client:
        for resolution, seconds, usd in (("540p", 5, 0.15), ("1080p", 5, 1.20), ("720p", 10, 0.90), ("1080p", 10, 3.60)):
            result = await client.call_tool("estimate_cost", {"request": {
                **RAY32, "resolution": resolution, "duration_s": seconds}})
            assert not result.is_error, result.content[0].text
            assert result.structured_content["quotes"][0]["usd"] == pytest.approx(usd), (resolution, seconds)
    assert emu.requests == []  # quoting sends nothing


async def test_cancel_job_deletes_a_dream_machine_generation(emu, luma_settings):
    emu.hold_jobs = True
    async with make_client(luma_settings) as client:
        job_id = await start_job(client, "generate_video", RAY2)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", job
    assert emu.count("cancel") == 1 and next(iter(emu.jobs.values())).canceled
