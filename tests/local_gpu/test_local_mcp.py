"""The local provider through the MCP tools (in-memory client), on tiny pipelines, on the CPU.

generate_video (text, first+last frame, keyframes), make_loop (the model's keyframe loop),
extend_video and cancel_job, each checked by decoding the output file.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import av
import pytest
from provider_utils import require_provider

require_provider("local")  # the rest of this module needs its package

from reelforge.providers.local.worker import gpu_worker
from client_utils import make_client
from tests.media_utils import make_image

pytest.importorskip("diffusers", reason="the [local] extra is not installed")
pytestmark = pytest.mark.local_gpu

TERMINAL = {"succeeded", "failed", "canceled", "unknown"}
LTX = {"provider": "local", "model": "ltx-video-0.9.8-distilled", "resolution": "360p", "aspect_ratio": "16:9"}


async def finish(client, result, expect: str = "succeeded") -> dict:
    assert not result.is_error, result.content[0].text
    job = result.structured_content
    while job["status"] not in TERMINAL:
        result = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 30})
        job = result.structured_content
    assert job["status"] == expect, job
    return job


def decoded(path: str) -> tuple[int, tuple[int, int], str]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        return frames, (stream.width, stream.height), stream.codec_context.name


@pytest.mark.slow
async def test_generate_text_to_video_reports_snapping_and_progress(local_env) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(p, total, message) -> None:
        progress.append((p, message))

    async with make_client(local_env) as client:
        result = await client.call_tool(
            "generate_video", {"request": {**LTX, "prompt": "a cat on the beach", "duration_s": 1, "seed": 5}},
            progress_callback=on_progress,
        )
        job = await finish(client, result)
    assert decoded(job["output"]["path"]) == (25, (32, 32), "h264")
    text = " ".join(job.get("notes") or []) + result.content[0].text
    assert "640x360 -> 32x32" in text
    # The job runner coalesces updates that arrive faster than it relays them, so with the tiny
    # model's millisecond steps not every "denoising step i/8" reaches the client (each one is
    # asserted at the provider level in test_local_render.py); the stages around them do.
    stages = ("encoding prompt", "denoising step", "decoding", "writing mp4")
    assert any((m or "").startswith(stages) for _, m in progress), progress
    assert [p for p, _ in progress] == sorted(p for p, _ in progress) and progress[-1][0] > 0.9


@pytest.mark.slow
async def test_generate_first_last_frame_on_wan_and_keyframes_on_ltx(local_env, tmp_path: Path) -> None:
    first = make_image(tmp_path / "first.png", (64, 48), "red")
    last = make_image(tmp_path / "last.png", (64, 48), "blue")
    mid = make_image(tmp_path / "mid.png", (64, 48), "green")
    wan = {"provider": "local", "model": "wan2.2-i2v-a14b", "resolution": "480p", "duration_s": 1,
           "options": {"steps": 2}, "image": str(first), "last_image": str(last), "prompt": "a fade"}
    kf = {**LTX, "prompt": "colours", "duration_s": 1, "image": str(first), "last_image": str(last),
          "options": {"keyframes": [{"path": str(mid), "time_s": 0.5}]}}
    async with make_client(local_env) as client:
        wan_job = await finish(client, await client.call_tool("generate_video", {"request": wan}))
        kf_job = await finish(client, await client.call_tool("generate_video", {"request": kf}))
    assert decoded(wan_job["output"]["path"]) == (17, (32, 16), "h264")  # 16:9 in 1024 px, 16 fps, 4k+1
    assert decoded(kf_job["output"]["path"])[0] == 25


@pytest.mark.slow
async def test_make_loop_uses_the_keyframe_loop(local_env, tmp_path: Path) -> None:
    pytest.importorskip("reelforge.media.loop", reason="the media engine's loop module is not in this tree yet")
    still = make_image(tmp_path / "still.png", (64, 64), "orange")
    request = {"generate": {**LTX, "prompt": "a spinning top", "duration_s": 1}, "image": str(still),
               "strategy": "native", "repeat": 2}
    async with make_client(local_env) as client:
        job = await finish(client, await client.call_tool("make_loop", {"request": request}))
    frames, size, codec = decoded(job["output"]["path"])
    assert (frames, size, codec) == (48, (32, 32), "h264")  # 24 looped frames, repeated twice


@pytest.mark.slow
async def test_extend_video_continues_a_local_clip(local_env) -> None:
    pytest.importorskip("reelforge.media.join", reason="the media engine's join module is not in this tree yet")
    async with make_client(local_env) as client:
        source = await finish(client, await client.call_tool(
            "generate_video", {"request": {**LTX, "prompt": "waves", "duration_s": 1}}))
        extended = await finish(client, await client.call_tool(
            "extend_video", {"request": {**LTX, "prompt": "more waves", "duration_s": 1,
                                         "source": {"job_id": source["job_id"]}}}))
    src_frames = decoded(source["output"]["path"])[0]
    out_frames, size, _ = decoded(extended["output"]["path"])
    assert size == (32, 32) and out_frames > src_frames
    assert extended["output"]["extra"]["mode"] == "native"  # LTX conditions on the clip itself


@pytest.mark.slow
async def test_cancel_job_stops_the_render(local_env) -> None:
    request = {**LTX, "prompt": "a long render", "duration_s": 5, "options": {"steps": 100}, "wait_seconds": 0}
    async with make_client(local_env) as client:
        handle = (await client.call_tool("generate_video", {"request": request})).structured_content
        with anyio.fail_after(30):
            while gpu_worker().running is None:  # wait until it is on the worker
                await anyio.sleep(0.01)
        await client.call_tool("cancel_job", {"job_id": handle["job_id"]})
        job = await finish(client, await client.call_tool("get_job", {"job_id": handle["job_id"]}), "canceled")
    assert job.get("output") in (None, {})
    assert gpu_worker().running is None


async def test_missing_weights_fail_the_tool_call_with_the_pull_command(local_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-weights"))
    async with make_client(local_env) as client:
        result = await client.call_tool("generate_video", {"request": {**LTX, "prompt": "x", "duration_s": 1}})
    assert result.is_error
    assert "[local_unavailable]" in result.content[0].text
    assert "reelforge models pull ltx-video-0.9.8-distilled" in result.content[0].text
