"""Picture and sound stay together through transitions and trims (measured on the written file).

A flash-and-beep clip (a white frame and a beep at the same instant, twice a second) goes
through a crossfade and through a trim that starts between two output frames. Each flash's
onset in the decoded output must lie within half an output frame of the nearest beep onset:
that is as close as any frame-rate conversion can place it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import pytest

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.timeline import render_timeline
from reelforge.timeline.spec import ClipSpec, TimelineSpec, TransitionSpec
from tests.timeline.avsync_utils import av_offsets, make_flash_beep

#: Beep onsets are found to the sample; allow that and AAC's own sub-millisecond smear.
_MEASURE_SLACK_S = 0.001


@pytest.fixture(scope="module")
def flash_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    d = tmp_path_factory.mktemp("flash")
    return {fps: make_flash_beep(d / f"flash{fps}.mp4", 3.0, fps, 12) for fps in (24, 25)}


def _clips(src: Path, how: str) -> list[ClipSpec]:
    if how == "crossfade":
        fade = TransitionSpec(kind="crossfade", duration_s=0.5)
        return [ClipSpec(path=str(src), transition=fade), ClipSpec(path=str(src), in_s=0.3)]
    # 0.53 s is between frames of both the 24/25 fps source and the output rate.
    return [ClipSpec(path=str(src), out_s=1.0), ClipSpec(path=str(src), in_s=0.53)]


@pytest.mark.parametrize("how", ["crossfade", "trim"])
@pytest.mark.parametrize(("src_fps", "out_fps"), [(24, 30), (25, 30), (25, 24), (24, 25)])
def test_flash_and_beep_stay_within_half_a_frame(
    flash_clips: dict[int, Path], tmp_path: Path, how: str, src_fps: int, out_fps: int
) -> None:
    spec = TimelineSpec(clips=_clips(flash_clips[src_fps], how), preset="draft", orientation="1:1", fps=out_fps)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    offsets = av_offsets(Path(result.path))
    assert len(offsets) >= 6, offsets  # flashes on both sides of the edit were found
    worst = max(offsets, key=abs)
    half_frame = 0.5 / out_fps
    assert abs(worst) <= half_frame + _MEASURE_SLACK_S, (
        f"picture/sound offset {worst * 1000:+.1f} ms exceeds half a frame ({half_frame * 1000:.1f} ms): "
        f"{[round(o * 1000, 1) for o in offsets]}"
    )


def test_a_source_whose_sound_starts_late_keeps_its_offset(flash_clips: dict[int, Path], tmp_path: Path) -> None:
    # The container says the sound starts 0.2 s after the picture: every beep plays 200 ms after
    # its flash. A render must keep that relation, with or without a seek into the clip.
    late = tmp_path / "late.mkv"
    src = flash_clips[24]
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-itsoffset", "0.2", "-i", str(src),
         "-map", "0:v", "-map", "1:a", "-c", "copy", str(late)],
        check=True, capture_output=True, timeout=120,
    )
    fade = TransitionSpec(kind="crossfade", duration_s=0.5)
    clips = [ClipSpec(path=str(late), transition=fade), ClipSpec(path=str(late), in_s=0.3)]
    spec = TimelineSpec(clips=clips, preset="draft", orientation="1:1", fps=24)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    offsets = av_offsets(Path(result.path))
    assert len(offsets) >= 6
    assert all(abs(o - 0.2) <= 0.5 / 24 + _MEASURE_SLACK_S for o in offsets), [round(o * 1000, 1) for o in offsets]
