"""repeat_video: a clip played N times, stream-copied, with the exact frame count."""

from __future__ import annotations

from pathlib import Path

from reelforge.media.loop import repeat_video
from reelforge.media.probe import probe
from tests.media_utils import make_clip


async def test_repeat_is_exact(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "it's a clip.mp4", 1.0, (160, 90), 24, audio=True)
    out = await repeat_video(src, tmp_path / "x3.mp4", 3)
    info = probe(out)
    assert info.frames == 72 and abs(info.duration_s - 3.0) <= 1 / 24
    assert info.has_audio and abs((info.audio_duration_s or 0) - 3.0) < 0.05
