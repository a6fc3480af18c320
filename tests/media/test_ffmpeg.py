"""run_ffmpeg: atomic output, progress, failures, timeout and cancellation leave nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import av
import pytest

from reelforge.errors import MediaError
from reelforge.media.ffmpeg import h264_args, run_ffmpeg
from reelforge.media.probe import probe


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".partial-"))


def _ffmpeg_processes_writing_into(folder: Path) -> list[int]:
    """PIDs of live processes whose command line mentions `folder` (ffmpeg writing our temp)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if str(folder) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


async def test_renders_h264_atomically_with_monotonic_progress(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        assert not out.exists(), "the destination must appear only after success"
        seen.append(fraction)

    args = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24,trim=end_frame=36", *h264_args(24)]
    result = await run_ffmpeg(args, out, duration_s=1.5, progress=progress, timeout_s=60)
    assert result == out.absolute()
    info = probe(out)
    assert (info.frames, info.width, info.height, info.codec, info.pix_fmt) == (36, 160, 90, "h264", "yuv420p")
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.colorspace == 1  # BT.709 tag from h264_args
    assert seen and seen[-1] == 1.0
    assert all(b > a for a, b in zip(seen, seen[1:])), seen
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert _leftovers(tmp_path) == []
    assert oct(out.stat().st_mode & 0o777) == "0o644"


async def test_failure_raises_media_error_with_stderr_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bad.mp4"
    with pytest.raises(MediaError) as err:
        await run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x90", "-vf", "nosuchfilter", "-frames:v", "1"], out)
    assert "exit code" in str(err.value) and "nosuchfilter" in str(err.value)
    assert not out.exists() and _leftovers(tmp_path) == []


async def test_empty_output_is_a_failure(tmp_path: Path) -> None:
    # rawvideo with zero frames: ffmpeg exits 0 and writes 0 bytes (the -sseof failure mode).
    out = tmp_path / "empty.raw"
    args = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24:duration=1,trim=start_frame=1000", "-f", "rawvideo"]
    with pytest.raises(MediaError, match="wrote no data"):
        await run_ffmpeg(args, out)
    assert not out.exists() and _leftovers(tmp_path) == []


async def test_missing_output_folder_is_explained(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        await run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=duration=1", "-frames:v", "1"], tmp_path / "nope" / "x.png")


@pytest.mark.slow
async def test_timeout_kills_ffmpeg_and_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "slow.mp4"
    # -re paces the endless source in real time, so this would run for an hour.
    args = ["-re", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24", *h264_args(24, preset="ultrafast")]
    with pytest.raises(MediaError, match="did not finish within"):
        await run_ffmpeg(args, out, timeout_s=0.8)
    assert not out.exists() and _leftovers(tmp_path) == []
    assert _ffmpeg_processes_writing_into(tmp_path) == []


@pytest.mark.slow
async def test_cancellation_kills_ffmpeg_and_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "cancel.mp4"
    args = ["-re", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24", *h264_args(24, preset="ultrafast")]
    started = anyio.Event()

    async def progress(_fraction: float) -> None:
        started.set()

    with anyio.move_on_after(5) as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: run_ffmpeg(args, out, duration_s=3600, progress=progress))
            await started.wait()  # ffmpeg is really running and writing the temp file
            assert _leftovers(tmp_path), "a .partial- temp file should exist while ffmpeg runs"
            tg.cancel_scope.cancel()
    assert not scope.cancelled_caught, "the cancel never reached run_ffmpeg"
    assert not out.exists() and _leftovers(tmp_path) == []
    assert _ffmpeg_processes_writing_into(tmp_path) == []


async def test_stdin_frames_are_encoded(tmp_path: Path) -> None:
    out = tmp_path / "piped.mp4"
    w, h, n = 64, 36, 10

    async def frames():
        for i in range(n):
            yield bytes([i * 20 % 256]) * (w * h * 3)

    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "24", "-i", "pipe:0", *h264_args(24)]
    await run_ffmpeg(args, out, duration_s=n / 24, stdin=frames())
    info = probe(out)
    assert (info.frames, info.width, info.height) == (n, w, h)


@pytest.mark.slow
async def test_stdin_feed_cancelled_midway_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "piped.mp4"
    w, h = 64, 36
    fed, closed = 0, False

    async def endless():
        nonlocal fed, closed
        try:
            while True:
                fed += 1
                yield os.urandom(w * h * 3)
                await anyio.sleep(0.01)
        finally:
            closed = True  # the feed is closed at once (it may hold an open decoder)

    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "24", "-i", "pipe:0", *h264_args(24)]
    with anyio.move_on_after(1.0):
        await run_ffmpeg(args, out, duration_s=100, stdin=endless())
    assert fed > 5 and closed
    assert not out.exists() and _leftovers(tmp_path) == []
    assert _ffmpeg_processes_writing_into(tmp_path) == []


async def test_stdin_with_ffmpeg_failing_early_reports_ffmpeg_error(tmp_path: Path) -> None:
    async def frames():
        for _ in range(50):
            yield b"\0" * (64 * 36 * 3)

    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x36", "-i", "pipe:0", "-vf", "nosuchfilter"]
    with pytest.raises(MediaError, match="exit code"):
        await run_ffmpeg(args, tmp_path / "x.mp4", stdin=frames())
    assert _leftovers(tmp_path) == []


async def test_a_failing_stdin_feed_raises_its_own_error(tmp_path: Path) -> None:
    async def broken():
        for _ in range(3):
            yield b"\0" * (64 * 36 * 3)
        raise MediaError("the source could not be decoded")

    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x36", "-r", "24", "-i", "pipe:0", *h264_args(24)]
    with pytest.raises(MediaError, match="could not be decoded"):  # not an ExceptionGroup
        await run_ffmpeg(args, tmp_path / "x.mp4", stdin=broken(), timeout_s=60)
    assert not (tmp_path / "x.mp4").exists() and _leftovers(tmp_path) == []
    assert _ffmpeg_processes_writing_into(tmp_path) == []
