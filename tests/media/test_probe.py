"""probe: exact frames and real stream facts from tiny synthetic files, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.probe import probe
from tests.media_utils import make_clip, make_image


def test_mp4_facts(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "a.mp4", 1.5, size=(160, 90), fps=24))
    assert (info.frames, info.width, info.height, info.fps) == (36, 160, 90, 24.0)
    assert info.duration_s == pytest.approx(1.5, abs=1e-3)
    assert (info.codec, info.pix_fmt, info.vfr) == ("h264", "yuv420p", False)
    assert info.has_audio and info.audio_codec == "aac" and info.sample_rate == 48000
    assert info.size_bytes == (tmp_path / "a.mp4").stat().st_size


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_containers_without_frame_counts_are_counted(tmp_path: Path, suffix: str) -> None:
    # MKV/WebM store no frame count (PyAV reports 0): probe must demux and count.
    info = probe(make_clip(tmp_path / f"a{suffix}", 1.0, fps=12))
    assert info.frames == 12
    assert info.duration_s == pytest.approx(1.0, abs=0.01)


def test_audio_longer_than_video_is_reported_separately(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "long_audio.mp4", 1.0, audio_seconds=2.0))
    assert info.frames == 24 and info.duration_s == pytest.approx(1.0, abs=1e-3)
    assert info.audio_duration_s == pytest.approx(2.0, abs=0.05)


def test_no_audio(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "silent.mp4", 0.5, audio=False))
    assert not info.has_audio and info.audio_codec is None and info.frames == 12


def test_errors_a_model_can_act_on(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="No file at") as missing:
        probe(tmp_path / "missing.mp4")
    assert missing.value.param == "path"
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video" * 100)
    with pytest.raises(MediaError, match="could not be read"):
        probe(tmp_path / "junk.mp4")
    with pytest.raises(InvalidRequest, match="still image"):
        probe(make_image(tmp_path / "still.png"))
    with pytest.raises(InvalidRequest, match="is not a file"):
        probe(tmp_path)
