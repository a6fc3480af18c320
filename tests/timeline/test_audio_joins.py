"""Audio at the joins: a hard cut does not click, a crossfade keeps its level (equal power).

Both are measured on the decoded sound of the written MP4.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import av
import numpy as np
import pytest

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.timeline import render_timeline
from reelforge.timeline.spec import ClipSpec, TimelineSpec, TransitionSpec

SMALL = {"preset": "draft", "orientation": "1:1", "fps": 12}
RATE = 48000


def _tone_clip(path: Path, expr: str, seconds: float = 2.0) -> Path:
    """A grey clip whose sound is the aevalsrc expression `expr` (in t), in stereo."""
    argv = [
        ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s=160x90:r=24:d={seconds}",
        "-f", "lavfi", "-i", f"aevalsrc='{expr}|{expr}':s={RATE}:d={seconds}", "-c:v", "libx264",
        "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "256k", "-shortest", str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def _samples(path: Path) -> np.ndarray:
    """The left channel of the file's sound, from the decode (priming already removed)."""
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tones")
    return {
        "sin440": _tone_clip(d / "sin440.mp4", "0.25*sin(2*PI*440*t)"),
        # Starts at its peak on every whole second and quarter second: a hard cut into it jumps.
        "cos440": _tone_clip(d / "cos440.mp4", "0.25*cos(2*PI*440*t)"),
        "sin660": _tone_clip(d / "sin660.mp4", "0.25*sin(2*PI*660*t)"),
    }


def _render(spec: TimelineSpec, tmp: Path) -> Path:
    return Path(anyio.run(lambda: render_timeline(spec, tmp / "out", cache_dir=tmp / "cache")).path)


def test_hard_cut_does_not_click(tones: dict[str, Path], tmp_path: Path) -> None:
    # sin440 ends at 1.0 s on a zero crossing; cos440 enters at 0.25 s at its peak: a 0.25 jump.
    spec = TimelineSpec(
        clips=[ClipSpec(path=str(tones["sin440"]), out_s=1.0), ClipSpec(path=str(tones["cos440"]), in_s=0.25)],
        **SMALL,
    )
    x = _samples(_render(spec, tmp_path))
    step = np.abs(np.diff(x))
    cut = RATE  # the cut is at exactly 1.0 s
    near = step[cut - RATE // 100: cut + RATE // 100].max()
    normal = np.percentile(step[RATE // 10: cut - RATE // 20], 99.9)
    assert near <= 1.5 * normal, f"sample step at the cut {near:.4f} vs {normal:.4f} elsewhere: a click"


def test_crossfade_keeps_the_level(tones: dict[str, Path], tmp_path: Path) -> None:
    fade = TransitionSpec(kind="crossfade", duration_s=1.0)
    spec = TimelineSpec(
        clips=[ClipSpec(path=str(tones["sin440"]), transition=fade), ClipSpec(path=str(tones["sin660"]))], **SMALL
    )
    x = _samples(_render(spec, tmp_path))
    rms = lambda a: float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))  # noqa: E731
    body = rms(x[int(0.3 * RATE): int(0.8 * RATE)])
    middle = rms(x[int(1.45 * RATE): int(1.55 * RATE)])  # the fade runs 1.0-2.0 s
    dip_db = 20 * np.log10(middle / body)
    assert abs(dip_db) <= 1.0, f"level mid-crossfade is {dip_db:+.1f} dB (linear fades dip by 3 dB)"
