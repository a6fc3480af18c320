"""Every work tool end to end on the free preview provider, through an in-memory MCP client.

Outputs are checked by probing the written files, never by trusting the job record.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import av
import pytest

from reelforge.media.probe import probe
from media_utils import make_clip, make_image

TERMINAL = {"succeeded", "failed", "canceled", "unknown"}


async def finish(client, result) -> dict:
    assert not result.is_error, result.content[0].text
    job = result.structured_content
    while job["status"] not in TERMINAL:
        result = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 30})
        job = result.structured_content
    assert job["status"] == "succeeded", job
    return job


def decoded_frames(path: str) -> int:
    with av.open(path) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_generate_text_preview_probed(client) -> None:
    progress: list[float] = []

    async def on_progress(p, total, message) -> None:
        progress.append(p)

    result = await client.call_tool(
        "generate_video",
        {"request": {"prompt": "A lighthouse at dusk", "provider": "preview", "duration_s": 2, "fps": 24,
                     "resolution": "360p", "aspect_ratio": "16:9", "seed": 3}},
        progress_callback=on_progress,
    )
    job = await finish(client, result)
    out = job["output"]
    info = probe(out["path"])
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (640, 360)
    assert abs(info.duration_s - 2.0) <= 1 / 24 + 1e-6
    assert decoded_frames(out["path"]) == 48
    assert job["is_preview"] is True and job["cost_usd"] == 0
    assert all(b > a for a, b in zip(progress, progress[1:])) and max(progress) <= 100  # strictly increasing
    kinds = [c.type for c in result.content]
    assert kinds[0] == "text" and out["path"] in result.content[0].text
    if job["status"] == "succeeded" and "image" in kinds:
        image = next(c for c in result.content if c.type == "image")
        assert len(base64.b64decode(image.data)) < 1_000_000
    receipt = json.loads(Path(out["receipt_path"]).read_text())
    assert receipt["output"]["sha256"] == out["sha256"] and receipt["seed"] == 3
    assert Path(out["poster_path"]).stat().st_size > 0 and Path(out["contact_sheet_path"]).stat().st_size > 0
    res = await client.read_resource(f"reelforge://jobs/{job['job_id']}")
    assert json.loads(res.contents[0].text)["status"] == "succeeded"


async def test_image_to_video_and_short_wait_returns_handle(client, tmp_path: Path) -> None:
    image = make_image(tmp_path / "still.png", (320, 180), (200, 60, 40))
    result = await client.call_tool(
        "generate_video",
        {"request": {"prompt": "slow push in", "provider": "preview", "image": str(image), "duration_s": 1.5,
                     "resolution": "360p", "wait_seconds": 0}},
    )
    assert not result.is_error
    handle = result.structured_content
    assert handle["job_id"].startswith("job_") and handle["uri"].startswith("reelforge://jobs/")
    job = await finish(client, result)
    assert probe(job["output"]["path"]).frames == 36


async def test_idempotency_key_returns_first_job(client) -> None:
    request = {"prompt": "same", "provider": "preview", "duration_s": 1, "resolution": "360p",
               "idempotency_key": "abc-123", "wait_seconds": 0}
    first = await client.call_tool("generate_video", {"request": request})
    second = await client.call_tool("generate_video", {"request": {**request, "wait_seconds": 1}})
    assert first.structured_content["job_id"] == second.structured_content["job_id"]
    jobs = await client.call_tool("list_jobs", {})
    assert len(jobs.structured_content["jobs"]) == 1
    await finish(client, first)


@pytest.mark.slow
async def test_extend_loop_compose_chain(client, tmp_path: Path) -> None:
    clip = await finish(client, await client.call_tool(
        "generate_video", {"request": {"prompt": "waves", "provider": "preview", "duration_s": 2, "resolution": "360p", "seed": 1}}))
    ext = await finish(client, await client.call_tool(
        "extend_video", {"request": {"source": {"job_id": clip["job_id"]}, "prompt": "more waves",
                                      "provider": "preview", "duration_s": 1, "resolution": "360p"}}))
    # 48 source frames + 24 continuation frames, minus the repeated conditioning frame if it matched.
    ext_frames = decoded_frames(ext["output"]["path"])
    join = ext["output"]["extra"]["join"]
    assert ext_frames == 48 + 24 - (1 if join["dropped_repeated_frame"] else 0)
    assert ext["parents"] == [clip["job_id"]]

    # A loop of a clip with motion (a local file) must have an invisible seam, measured on the output.
    pan = make_clip(tmp_path / "pan.mp4", 2.0, (320, 180), 24, pattern="pan")
    loop = await finish(client, await client.call_tool(
        "make_loop", {"request": {"source": {"path": str(pan)}, "strategy": "crossfade"}}))
    seam = loop["output"]["extra"]["loop"]["seam"]
    assert seam["seam_ratio"] < 2.0
    title_loop = await finish(client, await client.call_tool(
        "make_loop", {"request": {"source": {"job_id": clip["job_id"]}}}))
    assert title_loop["parents"] == [clip["job_id"]] and "seam" in title_loop["output"]["extra"]["loop"]

    comp = await finish(client, await client.call_tool("compose_timeline", {"request": {
        "name": "chain",
        "timeline": {"preset": "draft", "clips": [
            {"job_id": clip["job_id"], "transition": {"kind": "crossfade", "duration_s": 0.5}},
            {"generate": {"prompt": "The End", "provider": "preview", "duration_s": 1, "resolution": "360p"}},
        ]}}}))
    out = comp["output"]
    assert Path(out["otio_path"]).exists()
    expected = out["extra"]["expected_frames"]
    assert decoded_frames(out["path"]) == expected
    assert set(comp["parents"]) == {clip["job_id"]}
