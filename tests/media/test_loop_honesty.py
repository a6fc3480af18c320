"""make_loop says when its loop shows a seam: the metric sees ghosting, and auto checks its pick.

A crossfade on a pan blends two different pictures for the length of the fade: every step
still looks ordinary, so only a measure that compares the written frames with the source's
sees the double exposure. And the loop-point search works on 64x36 thumbnails, which can miss
fine detail that jumps at the loop point: auto must notice that on the written file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import pytest

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.media.loop import make_loop
from reelforge.media.seam import loop_seam, thumbnails
from tests.media_utils import make_clip


def _fine_detail_clip(path: Path) -> Path:
    """A big disk circling once a second (a perfect loop at thumbnail size) over fine stripes that
    drift 3 px/s (they never come back within the clip): the loop point jumps at full size."""
    lum = ("clip(100+60*sin(2*PI*(X+3*T)/4)"
           "+90*lt(hypot(X-80-35*cos(2*PI*T)\\,Y-45-20*sin(2*PI*T))\\,18)\\,0\\,255)")
    argv = [
        ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
        "-i", f"color=c=gray:s=160x90:r=24:d=3,format=gray,geq=lum='{lum}',format=yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def test_crossfade_ghosting_on_a_pan_is_measured_and_reported(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "pan.mp4", 3.0, pattern="pan", audio=False)
    result = anyio.run(lambda: make_loop(src, tmp_path / "loop.mp4", strategy="crossfade"))
    # The fade is 24 of the 48 frames; the middle of it plainly shows two pictures.
    assert result.seam.ghosted_frames >= result.frames // 5, result.seam
    assert not result.seamless
    assert any("double exposure" in note for note in result.notes), result.notes


@pytest.mark.slow
def test_a_clean_cut_loop_has_no_ghosting(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "periodic.mp4", 3.0, pattern="periodic", audio=False)
    result = anyio.run(lambda: make_loop(src, tmp_path / "loop.mp4"))
    assert result.strategy == "search"
    assert result.seam.ghosted_frames == 0 and result.seamless and not result.notes
    assert result.seam == loop_seam(tmp_path / "loop.mp4", source=thumbnails(src))


@pytest.mark.slow
def test_auto_does_not_keep_a_loop_it_measures_as_seamed(tmp_path: Path) -> None:
    src = _fine_detail_clip(tmp_path / "fine.mp4")
    result = anyio.run(lambda: make_loop(src, tmp_path / "loop.mp4"))
    # The thumbnail search finds a loop point (score <= 2) whose written seam jumps (ratio ~7.7).
    assert result.search_ratio is not None and result.search_ratio <= 2
    if result.seamless:
        assert result.seam.seam_ratio <= 2 and result.strategy == "crossfade"
        assert any("first choice" in note for note in result.notes), result.notes
    else:
        assert any("visible seam" in note for note in result.notes), result.notes
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


@pytest.mark.parametrize("strategy", ["search"])
def test_an_explicit_strategy_says_when_its_seam_shows(tmp_path: Path, strategy: str) -> None:
    src = make_clip(tmp_path / "pan.mp4", 3.0, pattern="pan", audio=False)
    result = anyio.run(lambda: make_loop(src, tmp_path / "loop.mp4", strategy=strategy))  # type: ignore[arg-type]
    assert result.seam.seam_ratio > 2 and not result.seamless
    assert any("jump" in note for note in result.notes), result.notes
