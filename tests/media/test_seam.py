"""Seam metrics on real files: ordinary steps score ~1, jumps and freezes do not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.media.seam import join_seam, loop_seam
from tests.media_utils import make_clip


def _concat(parts: list[Path], out: Path) -> Path:
    """Naive cut of the parts one after another (re-encoded, video only)."""
    inputs = [x for p in parts for x in ("-i", str(p))]
    graph = "".join(f"[{i}:v]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1[v]"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", str(out)], check=True, timeout=120)
    return out


def test_naive_loop_of_a_pan_is_a_visible_jump(tmp_path: Path) -> None:
    m = loop_seam(make_clip(tmp_path / "pan.mp4", 2.0, pattern="pan"))
    assert m.frames_checked == 48
    assert m.seam_ratio > 20 and m.seam_psnr_db < 25


def test_join_seam_sees_a_cut_and_not_a_continuous_clip(tmp_path: Path) -> None:
    pan = make_clip(tmp_path / "pan.mp4", 2.0, pattern="pan", audio=False)
    # A clip against itself: frame 47 (end of the pan) jumps back to frame 0.
    doubled = _concat([pan, pan], tmp_path / "doubled.mp4")
    assert join_seam(doubled, 48).seam_ratio > 20
    # Inside the continuous pan, an arbitrary "cut" is an ordinary step.
    inside = join_seam(pan, 30)
    assert 0.5 < inside.seam_ratio < 2 and inside.frames_checked == 48


def test_a_repeated_frame_scores_near_zero(tmp_path: Path) -> None:
    pan = make_clip(tmp_path / "pan.mp4", 2.0, pattern="pan", audio=False)
    frozen = tmp_path / "frozen.mp4"
    # Show one frame twice (a one-frame freeze, as a naive extend join makes): output frames
    # 29 and 30 are the same picture.
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(pan), "-vf",
                    "loop=loop=1:size=1:start=30,setpts=N/24/TB",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", str(frozen)], check=True, timeout=120)
    assert join_seam(frozen, 30).seam_ratio < 0.05
    assert join_seam(frozen, 31).seam_ratio > 0.5


def test_static_clip_loops_cleanly(tmp_path: Path) -> None:
    m = loop_seam(make_clip(tmp_path / "still.mp4", 1.0, pattern="still"))
    assert m.seam_ratio == pytest.approx(1.0, abs=0.2)
    assert m.seam_psnr_db >= 60


def test_bad_arguments(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", 0.5)
    with pytest.raises(InvalidRequest) as err:
        join_seam(clip, 12)
    assert err.value.param == "at_frame"
    with pytest.raises(InvalidRequest):
        join_seam(clip, 0)
    with pytest.raises(InvalidRequest):
        loop_seam(tmp_path / "missing.mp4")
    tiny = make_clip(tmp_path / "two.mp4", 2 / 24)
    with pytest.raises(MediaError, match="at least 3"):
        loop_seam(tiny)
