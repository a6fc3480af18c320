"""A 10-clip mixed timeline renders to the exact expected frame count.

Mixed inputs (24 and 30 fps, 160x90 and 320x180, one clip without audio), every transition kind,
a title and a looping music bed, rendered with the draft preset (854x480 @ 24) and checked by
decoding the output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.timeline import render_timeline
from reelforge.timeline.spec import AudioBedSpec, ClipSpec, TimelineSpec, TitleSpec, TransitionSpec
from tests.media_utils import make_clip
from tests.timeline.conftest import decode

JOINS = [
    ("crossfade", None, 0.5),
    ("fade_black", None, 0.5),
    ("dissolve", None, 0.25),
    ("wipe", "left", 0.5),
    ("slide", "up", 0.5),
    ("zoom", None, 0.5),
    ("cut", None, 0.0),
    ("fade_white", None, 0.5),
    ("wipe", "down", 0.25),
]


@pytest.mark.slow
async def test_ten_clip_mixed_timeline_has_exact_frames(tmp_path: Path) -> None:
    clips, expected = [], 0
    for i in range(10):
        fps, size = (24, (160, 90)) if i % 2 == 0 else (30, (320, 180))
        seconds = 1.0 + 0.25 * (i % 3)
        path = make_clip(tmp_path / f"c{i}.mp4", seconds, size, fps, audio=(i != 3), pattern="testsrc2")
        transition = None
        if i < 9:
            kind, direction, d = JOINS[i]
            transition = TransitionSpec(kind=kind, direction=direction, duration_s=d)  # type: ignore[arg-type]
        in_s = 0.25 if i == 4 else 0.0
        clips.append(ClipSpec(path=str(path), in_s=in_s, transition=transition))
        expected += round((seconds - in_s) * 24)
    expected -= sum(round(d * 24) for kind, _, d in JOINS if kind != "cut")
    music = make_clip(tmp_path / "music.mp4", 3.0, (32, 32), 24)
    spec = TimelineSpec(
        clips=clips,
        titles=[TitleSpec(text="Ten clips, six kinds of transition", start_s=0.5, end_s=4.0)],
        audio_bed=AudioBedSpec(path=str(music), volume=0.4, fade_in_s=0.5, fade_out_s=1.0),
        preset="draft",
    )
    result = await render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache", name="ten")
    assert result.plan == "segments"
    # By hand: clips 12.25 s - 0.25 s trim = 288 frames; overlaps 6 x 0.5 s + 2 x 0.25 s = 84 frames.
    assert result.expected_frames == expected == 288 - 84
    out = decode(Path(result.path))
    assert out.frames == expected
    assert (out.width, out.height, out.fps, out.codec, out.pix_fmt) == (854, 480, 24.0, "h264", "yuv420p")
    assert out.audio_s is not None and abs(out.audio_s - expected / 24) <= 2 * 1024 / 48000
