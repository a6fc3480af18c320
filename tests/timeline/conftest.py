"""Fixtures for the timeline engine: tiny real clips, and probes that decode the output.

Results are checked by decoding the files the engine wrote (PyAV), never by trusting return
values or container headers alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.media_utils import make_clip  # noqa: E402


@dataclass
class Decoded:
    """What a file really holds, measured by decoding every frame and sample."""

    frames: int
    width: int
    height: int
    fps: float
    codec: str
    pix_fmt: str
    color_primaries: str | None
    audio_s: float | None


def decode(path: Path) -> Decoded:
    """Decode every video frame and audio sample of `path` (tiny files only)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = (v.codec_context.width, v.codec_context.height, float(v.average_rate or 0), v.codec_context.name)
        pix_fmt = v.codec_context.pix_fmt
        primaries = getattr(v.codec_context, "color_primaries", None)
        frames = sum(1 for _ in c.decode(v))
    audio_s = None
    with av.open(str(path)) as c:
        if c.streams.audio:
            # Playing length from packet times (what players use): AAC priming that a stream-copy
            # join carries at each cut overlaps in time and does not lengthen the track.
            a = c.streams.audio[0]
            ends = [float((p.pts + p.duration) * p.time_base) for p in c.demux(a) if p.pts is not None]
            audio_s = max(ends) - max(0.0, float((a.start_time or 0) * a.time_base)) if ends else 0.0
    tag = str(primaries) if primaries is not None else None
    return Decoded(frames, info[0], info[1], info[2], info[3], pix_fmt, tag, audio_s)


def frame_at(path: Path, index: int, fmt: str = "rgb24"):
    """The decoded frame `index` as an array (decode from the start: exact, tiny files)."""
    with av.open(str(path)) as c:
        for k, f in enumerate(c.decode(video=0)):
            if k == index:
                return f.to_ndarray(format=fmt)
    raise IndexError(index)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("timeline-media")


@pytest.fixture(scope="session")
def clip_a(media_dir: Path) -> Path:
    """2 s, 160x90, 24 fps, with audio."""
    return make_clip(media_dir / "a.mp4", 2.0, (160, 90), 24)


@pytest.fixture(scope="session")
def clip_b(media_dir: Path) -> Path:
    """2 s, 320x180, 30 fps, no audio (another rate, another size); a flat blue picture.

    (The mandelbrot patterns take over a minute on the shared 2-core machine.)
    """
    return make_clip(media_dir / "b.mp4", 2.0, (320, 180), 30, audio=False, pattern="still")


@pytest.fixture(scope="session")
def clip_portrait(media_dir: Path) -> Path:
    """1.5 s, 90x160 (portrait), 25 fps, with audio."""
    return make_clip(media_dir / "p.mp4", 1.5, (90, 160), 25)
