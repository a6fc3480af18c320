"""make_loop on real clips: the seam is measured on the written file, and it is small."""

from __future__ import annotations

from pathlib import Path

import anyio
import av
import numpy as np
import pytest

from reelforge.errors import InvalidRequest
from reelforge.media import loop as loop_module
from reelforge.media.frames import to_rgb
from reelforge.media.loop import best_loop, make_loop
from reelforge.media.probe import probe
from reelforge.media.seam import loop_seam, thumbnails
from tests.media_utils import make_clip


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [to_rgb(f).astype(np.int16) for f in c.decode(video=0)]


def _no_partials(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".partial-")]


@pytest.mark.slow
async def test_crossfade_loop_of_a_pan_has_a_clean_loop_point(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "pan.mp4", 3.0, pattern="pan")
    naive = loop_seam(src)
    seen: list[float] = []

    async def progress(f: float) -> None:
        seen.append(f)

    result = await make_loop(src, tmp_path / "loop.mp4", progress=progress)  # auto: no loop point in a pan
    assert result.strategy == "crossfade" and result.search_ratio is not None and result.search_ratio > 2
    assert result.crossfade_frames == 24  # ~1 s at 24 fps
    info = probe(tmp_path / "loop.mp4")
    assert info.frames == result.frames == result.period_frames == 72 - 24
    assert info.has_audio and info.audio_duration_s == pytest.approx(2.0, abs=0.03)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    measured = loop_seam(tmp_path / "loop.mp4", source=thumbnails(src))
    assert result.seam == measured  # reported = measured on the written file
    # The loop point is clean, but the crossfade's double exposure is seen and reported.
    assert measured.ghosted_frames > 0 and not result.seamless
    assert measured.seam_ratio < 2 and measured.worst_step_ratio < 3
    assert naive.seam_ratio > 10 * measured.seam_ratio
    assert seen[-1] == 1.0 and all(b > a for a, b in zip(seen, seen[1:]))
    assert _no_partials(tmp_path)


async def test_explicit_crossfade_length_and_bounds(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "pan.mp4", 2.0, pattern="pan", audio=False)
    r = await make_loop(src, tmp_path / "l.mp4", strategy="crossfade", crossfade_s=0.5)
    assert (r.crossfade_frames, r.frames, r.has_audio) == (12, 36, False)
    assert not probe(tmp_path / "l.mp4").has_audio
    with pytest.raises(InvalidRequest) as err:
        await make_loop(src, tmp_path / "x.mp4", strategy="crossfade", crossfade_s=1.5)
    assert err.value.param == "crossfade_s" and "1..23" in str(err.value)
    assert not (tmp_path / "x.mp4").exists()


async def test_search_cuts_a_periodic_clip_at_its_period(tmp_path: Path) -> None:
    # The "periodic" clip repeats every 1 s (24 frames): frame i + 24k looks like frame i.
    src = make_clip(tmp_path / "per.mp4", 3.0, pattern="periodic")
    r = await make_loop(src, tmp_path / "l.mp4")
    assert r.strategy == "search"
    assert r.search_ratio is not None and r.search_ratio < 0.1
    assert (r.loop_end_frame - r.loop_start_frame) % 24 == 0 and r.period_frames >= 36
    assert r.frames == probe(tmp_path / "l.mp4").frames == r.period_frames
    assert r.seam.seam_ratio < 2
    # The cut really is source frames [start, end): output frame 0 is source frame `start`.
    src_frames, out_frames = _decode(src), _decode(tmp_path / "l.mp4")
    assert np.abs(out_frames[0] - src_frames[r.loop_start_frame]).mean() < 3
    assert np.abs(out_frames[-1] - src_frames[r.loop_end_frame - 1]).mean() < 3


def test_best_loop_finds_the_planted_repeat() -> None:
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0, 1, (60, 64 * 36)), axis=0).astype(np.float32)
    walk[50] = walk[10] + rng.normal(0, 0.01, 64 * 36)  # frame 50 looks like frame 10
    score, i, j = best_loop(walk, min_len=30)
    assert (i, j) == (10, 50) and score < 0.01
    assert best_loop(walk, min_len=60) is None


async def test_pingpong_has_no_audio_and_is_refused_above_the_memory_budget(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_clip(tmp_path / "pan.mp4", 1.0, pattern="pan")
    r = await make_loop(src, tmp_path / "pp.mp4", strategy="pingpong")
    info = probe(tmp_path / "pp.mp4")
    assert r.strategy == "pingpong" and info.frames == r.frames == 2 * 24 - 2 and not info.has_audio
    frames = _decode(tmp_path / "pp.mp4")
    assert np.abs(frames[30] - frames[16]).mean() < 3  # frame 23+k mirrors frame 23-k
    monkeypatch.setattr(loop_module, "PINGPONG_BUDGET_BYTES", 160 * 90 * 1.5 * 10)
    with pytest.raises(InvalidRequest, match="memory") as err:
        await make_loop(src, tmp_path / "big.mp4", strategy="pingpong")
    assert err.value.param == "strategy" and "crossfade" in str(err.value)


async def test_repeat_concatenates_exact_copies_and_measures_the_first_seam(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "pan.mp4", 2.0, pattern="pan")
    r = await make_loop(src, tmp_path / "r.mp4", strategy="crossfade", repeat=3)
    info = probe(tmp_path / "r.mp4")
    assert info.frames == r.frames == 3 * r.period_frames == 3 * (48 - 16)
    assert info.duration_s == pytest.approx(r.frames / 24, abs=1e-3)
    assert info.audio_duration_s == pytest.approx(r.frames / 24, abs=0.03)
    assert r.seam.seam_ratio < 2
    frames = _decode(tmp_path / "r.mp4")
    assert np.array_equal(frames[0], frames[r.period_frames])  # stream copies: identical pixels
    with av.open(str(tmp_path / "r.mp4")) as c:
        pts = sorted(p.pts for p in c.demux(c.streams.video[0]) if p.size)
    assert len(set(np.diff(pts).tolist())) == 1  # constant frame rate across the copies
    assert _no_partials(tmp_path)


async def test_cancel_leaves_no_partial_file(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "pan.mp4", 3.0, pattern="pan", size=(320, 180))
    started = anyio.Event()

    async def progress(_f: float) -> None:
        started.set()

    async with anyio.create_task_group() as tg:
        async def run() -> None:
            await make_loop(src, tmp_path / "c.mp4", strategy="crossfade", repeat=50, progress=progress)
        tg.start_soon(run)
        with anyio.fail_after(30):
            await started.wait()
        tg.cancel_scope.cancel()
    assert not (tmp_path / "c.mp4").exists() and _no_partials(tmp_path)


async def test_bad_requests(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", 0.5)
    with pytest.raises(InvalidRequest) as err:
        await make_loop(src, tmp_path / "x.mp4", repeat=0)
    assert err.value.param == "repeat"
    with pytest.raises(InvalidRequest) as err:
        await make_loop(src, tmp_path / "x.mp4", strategy="spiral")  # type: ignore[arg-type]
    assert err.value.param == "strategy"
    with pytest.raises(InvalidRequest, match="No file"):
        await make_loop(tmp_path / "missing.mp4", tmp_path / "x.mp4")


async def test_clips_too_long_to_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_clip(tmp_path / "per.mp4", 2.0, pattern="periodic", audio=False)
    monkeypatch.setattr(loop_module, "MAX_SEARCH_FRAMES", 40)
    r = await make_loop(src, tmp_path / "auto.mp4")  # would be a search cut below the limit
    assert r.strategy == "crossfade" and r.search_ratio is None
    with pytest.raises(InvalidRequest, match="at most 40") as err:
        await make_loop(src, tmp_path / "s.mp4", strategy="search")
    assert err.value.param == "strategy"
