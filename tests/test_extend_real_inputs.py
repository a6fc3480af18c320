"""extend_video on the clips real users have (issue 8): 25/30/60 fps, variable rate, 10-bit, odd and
portrait sizes, a single frame; on the free preview provider and through a paid emulator.

Every result is checked on the written file: frames decoded one by one, rate, size, pixel format.
The expected count is built from the probed source and the probed continuation (the child job's
file), never from what the extend job says about itself.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import av
import pytest
from provider_utils import require_provider
from emulators.runway import RunwayEmulator
from pydantic import SecretStr

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.media.join import constant_rate, even_size, resampled_count
from reelforge.media.probe import probe
from reelforge.settings import Settings
from client_utils import make_client, settle, start_job

#: name -> (lavfi source, extra ffmpeg args): tiny versions of what a phone, an editor or a screen
#: recorder hands over. testsrc's own default rate is 25 fps.
SOURCES: dict[str, tuple[str, list[str]]] = {
    "25fps": ("testsrc=size=192x108:rate=25:duration=1", []),
    "30fps": ("testsrc=size=192x108:rate=30:duration=1", []),
    "60fps": ("testsrc=size=192x108:rate=60:duration=1", []),
    "10bit": ("testsrc=size=192x108:rate=30:duration=1", ["-pix_fmt", "yuv420p10le"]),
    "odd": ("testsrc=size=213x119:rate=30:duration=1", []),
    "portrait": ("testsrc=size=108x192:rate=25:duration=1", []),
    "one_frame": ("testsrc=size=192x108:rate=30", ["-frames:v", "1"]),
    # Stored 192x108, pixels 4:3 wide: shown as 256x108.
    "anamorphic": ("testsrc=size=192x108:rate=24:duration=1", ["-vf", "setsar=4/3"]),
    # 15 frames at 30 fps, then 15 at 15 fps: 1.5 s, average 20 fps.
    "vfr": ("testsrc=size=192x108:rate=30:duration=1",
            ["-vf", "setpts='if(lt(N,15),N,15+(N-15)*2)/(30*TB)'", "-fps_mode", "vfr"]),
}


def make_source(folder: Path, name: str) -> Path:
    lavfi, extra = SOURCES[name]
    path = folder / f"{name}.mp4"
    argv = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, *extra,
            "-c:v", "libx264", "-preset", "ultrafast", str(path)]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return path


def decoded(path: str | Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


async def step_jobs(client, parent: str) -> list[dict]:
    jobs = (await client.call_tool("list_jobs", {})).structured_content["jobs"]
    return [j for j in jobs if parent in j["parents"] and j["kind"] == "generate"]


def check_extended(source: Path, ext: dict, child: dict) -> None:
    """The written file has the source's rate, even size and depth, and exactly the frames it should."""
    src, cont = probe(source), probe(child["output"]["path"])
    out_path = ext["output"]["path"]
    out = probe(out_path)
    join = ext["output"]["extra"]["join"]
    rate = float(constant_rate(src.fps)) if src.vfr else src.fps
    assert out.fps == pytest.approx(rate, rel=1e-3) and not out.vfr
    assert (out.width, out.height) == even_size(src.width, src.height)
    assert (out.sample_aspect_ratio or "1:1") == (src.sample_aspect_ratio or "1:1")
    assert out.pix_fmt == ("yuv420p10le" if "10" in (src.pix_fmt or "") else "yuv420p")
    head = src.frames if not src.vfr else round(src.duration_s * rate)  # a VFR source keeps its length
    assert join["join_frame"] == head
    tail = resampled_count(cont.frames - (1 if join["dropped_repeated_frame"] else 0), cont.fps, rate)
    assert decoded(out_path) == out.frames == head + tail, (out, cont)
    assert out.duration_s == pytest.approx((head + tail) / rate, abs=1.5 / rate)


# -- the free preview provider, through the MCP server ----------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", list(SOURCES))
async def test_preview_extends_real_clips_exactly(settings: Settings, tmp_path: Path, name: str) -> None:
    source = make_source(tmp_path, name)
    async with make_client(settings) as client:
        ext = await settle(client, await start_job(client, "extend_video", {
            "source": {"path": str(source)}, "prompt": "the pattern keeps going", "provider": "preview",
            "duration_s": 1}))
        assert ext["status"] == "succeeded", ext
        [child] = await step_jobs(client, ext["job_id"])
    check_extended(source, ext, child)
    src = probe(source)
    cont = probe(child["output"]["path"])
    # The continuation was asked for in the source's shape where preview allows it: its rate (60 fps
    # becomes 30: every frame shown twice), and its orientation.
    wanted_fps = {25: 25, 30: 30, 60: 30}.get(round(src.fps))
    if wanted_fps and not src.vfr:
        assert round(cont.fps) == wanted_fps
    assert (cont.width > cont.height) == (src.width > src.height)
    if name == "anamorphic":  # the model was shown (and asked for) the picture as it is seen
        assert cont.width / cont.height == pytest.approx(21 / 9, rel=0.02)


# -- a paid provider (Runway emulator: 24 fps only) ---------------------------------------------------
@pytest.fixture
def emu() -> Iterator[RunwayEmulator]:
    require_provider("runway")
    with RunwayEmulator() as emulator:
        yield emulator


@pytest.fixture
def rw_settings(settings: Settings, emu: RunwayEmulator) -> Settings:
    return settings.with_provider_env(RUNWAYML_API_SECRET=emu.api_key, RUNWAYML_BASE_URL=emu.url)


RUNWAY = {"provider": "runway", "model": "gen4.5", "prompt": "the pattern keeps going", "duration_s": 2}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["25fps", "30fps", "60fps"])
async def test_paid_extend_of_real_clips_is_exact(emu, rw_settings: Settings, tmp_path: Path, name: str) -> None:
    source = make_source(tmp_path, name)
    async with make_client(rw_settings) as client:
        ext = await settle(client, await start_job(client, "extend_video", {**RUNWAY, "source": {"path": str(source)}}))
        assert ext["status"] == "succeeded", ext
        [child] = await step_jobs(client, ext["job_id"])
    check_extended(source, ext, child)
    assert emu.count("create") == 1
    assert ext["cost_usd"] == pytest.approx(child["cost_usd"]) and child["cost_usd"] > 0


@pytest.mark.slow
async def test_a_failed_paid_extend_reports_its_cost_and_a_retry_reuses_the_paid_step(
        emu, rw_settings: Settings, tmp_path: Path) -> None:
    source = make_source(tmp_path, "30fps")
    moved = tmp_path / "moved.mp4"
    request = {**RUNWAY, "source": {"path": str(source)}}
    async with make_client(rw_settings) as client:
        emu.hold_jobs = True
        first_id = await start_job(client, "extend_video", request)
        for _ in range(200):  # until the paid step exists at the provider
            if emu.count("create"):
                break
            await anyio.sleep(0.05)
        assert emu.count("create") == 1
        stat = source.stat()
        source.rename(moved)  # the user moves the clip while the continuation renders
        for job in emu.jobs.values():
            job.held = False
        failed = await settle(client, first_id)
        assert failed["status"] == "failed", failed
        [child] = await step_jobs(client, first_id)
        assert child["status"] == "succeeded" and child["cost_usd"] > 0
        # The parent owns up to the money its step spent, and says the paid part is kept.
        assert failed["cost_usd"] == pytest.approx(child["cost_usd"])
        message = failed["error"]["message"] + " " + (failed["error"].get("hint") or "")
        assert child["job_id"] in message and "again" in message.lower()

        moved.rename(source)  # back in place, unchanged
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        retry = await settle(client, await start_job(client, "extend_video", request))
        assert retry["status"] == "succeeded", retry
        assert retry["quote_usd"] == 0  # quoted as what it costs: nothing new
        assert retry["job_id"] != first_id
    assert emu.count("create") == 1  # the retry paid nothing new
    assert any(child["job_id"] in note for note in retry["notes"])
    check_extended(source, retry, child)

