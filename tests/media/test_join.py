"""join_continuation on real clips: no repeated frame, exact counts, colour drift ramped out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import av
import numpy as np
import pytest

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.media.frames import to_rgb
from reelforge.media.join import join_continuation
from reelforge.media.probe import probe
from reelforge.media.seam import join_seam

#: One long steady pan (a static fractal three frames wide under a sliding window): cutting it
#: in two gives a clip and its "perfect continuation".
PAN = "mandelbrot=size=480x90:rate=24:start_scale=3:end_scale=3,crop=160:90:x='2*160*t/4':y=0"


def _cut(path: Path, start: int, end: int, *, vf: str = "", audio: bool = True, size: str | None = None,
         fps: int | None = None) -> Path:
    """Frames [start, end) of the pan as their own encode, optionally drifted/resized/resampled."""
    chain = f"{PAN},trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS{vf}"
    if size:
        chain += f",scale={size}"
    if fps:
        chain += f",fps={fps}"
    argv = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", chain]
    if audio:
        argv += ["-f", "lavfi", "-i", "sine=f=440:r=48000:d=10", "-shortest", "-c:a", "aac", "-ac", "2"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
             "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", str(path)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [to_rgb(f).astype(np.float32) for f in c.decode(video=0)]


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2))


@pytest.mark.slow
async def test_repeated_first_frame_is_dropped_and_the_count_is_exact(tmp_path: Path) -> None:
    first = _cut(tmp_path / "a.mp4", 0, 48)
    cont = _cut(tmp_path / "b.mp4", 47, 96)  # starts with first's last frame, like extend_video
    seen: list[float] = []

    async def progress(f: float) -> None:
        seen.append(f)

    r = await join_continuation(first, cont, tmp_path / "j.mp4", progress=progress)
    assert r.dropped_repeated_frame and r.repeat_mse < 5
    info = probe(tmp_path / "j.mp4")
    assert info.frames == r.frames == 48 + 49 - 1 and r.join_frame == 48
    assert (info.width, info.height, info.fps, info.codec, info.pix_fmt) == (160, 90, 24.0, "h264", "yuv420p")
    assert info.audio_duration_s == pytest.approx(4.0, abs=0.03)
    out = _decode(tmp_path / "j.mp4")
    truth = _decode(_cut(tmp_path / "whole.mp4", 0, 96))
    # No freeze at the join: the step across it is an ordinary step of the pan ...
    steps = [_mse(out[i], out[i + 1]) for i in range(40, 56)]
    across = _mse(out[47], out[48])
    assert across > 0.5 * float(np.median(steps))
    # ... and every output frame is the pan's frame with the same index.
    assert all(_mse(out[i], truth[i]) < 0.1 * _mse(truth[i], truth[i + 1]) for i in (47, 48, 49))
    assert r.seam == join_seam(tmp_path / "j.mp4", 48) and r.seam.seam_ratio < 2
    assert r.color_ramp_s == 0 and max(abs(x) for x in r.color_offset) < 1
    assert seen[-1] == 1.0 and all(b > a for a, b in zip(seen, seen[1:]))


async def test_a_continuation_that_moves_on_is_kept_whole(tmp_path: Path) -> None:
    first = _cut(tmp_path / "a.mp4", 0, 48)
    cont = _cut(tmp_path / "c.mp4", 48, 96, audio=False)  # no repeat, no audio
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    assert not r.dropped_repeated_frame and r.repeat_mse > 20
    info = probe(tmp_path / "j.mp4")
    assert info.frames == r.frames == 96
    assert info.audio_duration_s == pytest.approx(4.0, abs=0.03)  # silence synthesized for the tail
    assert "audio: silence added" in r.conformed
    with av.open(str(tmp_path / "j.mp4")) as c:
        tail = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])[-48000:]
    assert np.abs(tail).max() < 1e-3  # the last second (continuation) is silent
    assert r.seam.seam_ratio < 2


@pytest.mark.slow
async def test_colour_drift_is_measured_and_ramped_out(tmp_path: Path) -> None:
    first = _cut(tmp_path / "a.mp4", 0, 48)
    cont = _cut(tmp_path / "d.mp4", 47, 96, vf=",eq=brightness=0.06")  # the generator drifted brighter
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    assert r.dropped_repeated_frame  # recognised despite the drift (mean offset removed)
    y_offset = r.color_offset[0]
    assert -18 < y_offset < -8  # brightness +0.06 ≈ +13 luma levels in the continuation
    assert r.color_ramp_s == pytest.approx(1.0)
    out = _decode(tmp_path / "j.mp4")
    truth = _decode(_cut(tmp_path / "whole.mp4", 0, 96))  # the undrifted pan, frame for frame
    drift = [float(out[i].mean() - truth[i].mean()) for i in range(96)]
    # At the join the continuation is pulled back to the first clip's level; a second later the
    # correction has faded out and the generator's own (brighter) level remains.
    assert abs(drift[47]) < 1.5 and abs(drift[48]) < 1.5
    assert drift[48 + 30] > 8
    assert all(b - a < 2.5 for a, b in zip(drift[47:80], drift[48:81]))  # a gentle ramp, no step
    naive = tmp_path / "naive.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(first), "-i", str(cont), "-filter_complex",
                    "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", str(naive)], check=True, timeout=120)
    naive_frames = _decode(naive)
    assert abs(float(naive_frames[48].mean()) - float(naive_frames[47].mean())) > 6  # the jump we removed
    assert r.seam.seam_ratio < 2 and r.seam.worst_step_ratio < 3


@pytest.mark.slow
async def test_other_size_and_rate_are_conformed(tmp_path: Path) -> None:
    first = _cut(tmp_path / "a.mp4", 0, 48)
    cont = _cut(tmp_path / "big.mp4", 48, 96, size="320:180", fps=30)  # 2 s at 30 fps = 60 frames
    assert probe(cont).frames == 60
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    info = probe(tmp_path / "j.mp4")
    assert (info.width, info.height, info.fps) == (160, 90, 24.0)
    assert info.frames == r.frames == 48 + 48
    assert any(c.startswith("size 320x180") for c in r.conformed) and any(c.startswith("fps 30") for c in r.conformed)


async def test_cancel_leaves_no_partial_file(tmp_path: Path) -> None:
    first = _cut(tmp_path / "a.mp4", 0, 48)
    cont = _cut(tmp_path / "b.mp4", 47, 96)
    started = anyio.Event()

    async def progress(_f: float) -> None:
        started.set()

    async with anyio.create_task_group() as tg:
        async def run() -> None:
            await join_continuation(first, cont, tmp_path / "j.mp4", progress=progress)
        tg.start_soon(run)
        with anyio.fail_after(30):
            await started.wait()
        tg.cancel_scope.cancel()
    assert not (tmp_path / "j.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


async def test_missing_input_is_a_bad_request(tmp_path: Path) -> None:
    first = _cut(tmp_path / "a.mp4", 0, 24, audio=False)
    with pytest.raises(InvalidRequest):
        await join_continuation(first, tmp_path / "missing.mp4", tmp_path / "j.mp4")


async def test_a_truncated_continuation_is_refused_not_joined_short(tmp_path: Path) -> None:
    first = _cut(tmp_path / "a.mp4", 0, 24, audio=False)
    whole = _cut(tmp_path / "b_whole.mp4", 24, 72, audio=False)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(whole), "-c", "copy", "-movflags", "+faststart",
                    str(tmp_path / "b_fast.mp4")], check=True, timeout=60)
    data = (tmp_path / "b_fast.mp4").read_bytes()
    cut = tmp_path / "b_cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])  # the index still promises 48 frames
    assert probe(cut).frames == 48
    with pytest.raises(MediaError, match=r"decodes to only \d+ of its 48 frames: the continuation file is cut short"):
        await join_continuation(first, cut, tmp_path / "j.mp4")
    assert not (tmp_path / "j.mp4").exists()


# -- real-world sources (issue 8): the first clip's rate, size and pixel format decide the output ------
def _src(path: Path, lavfi: str, *extra: str) -> Path:
    argv = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, *extra,
            "-c:v", "libx264", "-preset", "ultrafast", str(path)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def _count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.mark.parametrize("fps", [25, 30, 60])
async def test_a_24fps_continuation_is_resampled_to_the_first_clips_rate(tmp_path: Path, fps: int) -> None:
    first = _src(tmp_path / "a.mp4", f"testsrc=size=160x90:rate={fps}:duration=1")
    cont = _cut(tmp_path / "b.mp4", 48, 72, audio=False)  # 24 frames = 1 s at 24 fps, nothing repeated
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    info = probe(tmp_path / "j.mp4")
    # 1 s at `fps` plus 1 s at `fps`: each output time shows the continuation frame on screen then.
    assert not r.dropped_repeated_frame
    assert info.frames == _count(tmp_path / "j.mp4") == r.frames == 2 * fps and r.join_frame == fps
    assert info.fps == fps and (info.width, info.height) == (160, 90)
    assert info.duration_s == pytest.approx(2.0, abs=1.5 / fps)


async def test_a_10bit_first_clip_keeps_10_bits(tmp_path: Path) -> None:
    first = _src(tmp_path / "a.mp4", "testsrc=size=160x90:rate=24:duration=1", "-pix_fmt", "yuv420p10le")
    cont = _cut(tmp_path / "b.mp4", 48, 72, audio=False)
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    info = probe(tmp_path / "j.mp4")
    assert info.pix_fmt == "yuv420p10le" and info.frames == r.frames == 48
    assert any("yuv420p10le" in c for c in r.conformed)


async def test_an_odd_sized_first_clip_is_cropped_to_even_not_refused(tmp_path: Path) -> None:
    first = _src(tmp_path / "a.mp4", "testsrc=size=161x91:rate=30:duration=1")
    cont = _cut(tmp_path / "b.mp4", 48, 72, audio=False)
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    info = probe(tmp_path / "j.mp4")
    assert (info.width, info.height) == (160, 90) and info.frames == r.frames == 60
    assert any(c.startswith("size 161x91") for c in r.conformed)


async def test_a_variable_rate_first_clip_is_made_constant_with_a_measured_count(tmp_path: Path) -> None:
    # 30 frames at 30 fps, then 30 frames at 15 fps: 3 s, 60 frames, average 20 fps.
    first = _src(tmp_path / "a.mp4", "testsrc=size=160x90:rate=30:duration=2",
                 "-f", "lavfi", "-i", "sine=f=440:r=48000:d=3", "-c:a", "aac",
                 "-vf", "setpts='if(lt(N,30),N,30+(N-30)*2)/(30*TB)'", "-fps_mode", "vfr")
    assert probe(first).vfr
    cont = _cut(tmp_path / "b.mp4", 48, 72, audio=False)
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    info = probe(tmp_path / "j.mp4")
    assert not info.vfr and info.frames == _count(tmp_path / "j.mp4") == r.frames
    assert r.frames == r.join_frame + round(info.fps)  # the 1 s continuation at the output rate
    assert r.join_frame / info.fps == pytest.approx(3.0, abs=1.5 / info.fps)  # the source keeps its length
    assert any("variable" in c for c in r.conformed)
    assert info.audio_duration_s == pytest.approx(r.frames / info.fps, abs=0.03)
    with av.open(str(tmp_path / "j.mp4")) as c:
        sound = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    assert np.abs(sound[48000:96000]).max() > 0.05  # the source's own sound, not synthesized silence


async def test_a_one_frame_first_clip(tmp_path: Path) -> None:
    first = _src(tmp_path / "a.mp4", "testsrc=size=160x90:rate=30", "-frames:v", "1")
    cont = _cut(tmp_path / "b.mp4", 48, 72, audio=False)
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    assert probe(tmp_path / "j.mp4").frames == r.frames == 1 + 30 and r.join_frame == 1


async def test_an_anamorphic_first_clip_keeps_its_pixel_aspect(tmp_path: Path) -> None:
    # 160x90 stored, pixels 4:3 wide: it shows as 213x90. The continuation (square pixels, 16:9)
    # fills that picture without being squeezed: it is cropped in display space.
    first = _src(tmp_path / "a.mp4", "testsrc=size=160x90:rate=24:duration=1", "-vf", "setsar=4/3")
    cont = _cut(tmp_path / "b.mp4", 48, 72, audio=False)
    r = await join_continuation(first, cont, tmp_path / "j.mp4")
    info = probe(tmp_path / "j.mp4")
    assert info.sample_aspect_ratio == "4:3" and (info.width, info.height) == (160, 90)
    assert info.frames == r.frames == 48
    assert any(c.startswith("size 160x90") for c in r.conformed)
