"""make_loop on a clip with an odd frame size (853x479) works: H.264 4:2:0 needs even sizes.

Before, ffmpeg's raw stderr ("width not divisible by 2") reached the user.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import pytest

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.media.loop import make_loop
from reelforge.media.probe import probe


@pytest.fixture(scope="module")
def odd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("odd") / "odd.mp4"
    # testsrc2 rounds its size to even numbers; testsrc keeps 853x479 (4:4:4 can be odd-sized).
    argv = [
        ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=853x479:r=12:d=1.5",
        "-f", "lavfi", "-i", "sine=d=1.5:r=48000", "-c:v", "libx264", "-preset", "ultrafast",
        "-pix_fmt", "yuv444p", "-c:a", "aac", "-shortest", str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    assert (probe(path).width, probe(path).height) == (853, 479)
    return path


@pytest.mark.parametrize("strategy", ["auto", "crossfade", "pingpong"])
def test_odd_sized_clip_loops_at_the_nearest_even_size(odd_clip: Path, tmp_path: Path, strategy: str) -> None:
    out = tmp_path / "loop.mp4"
    result = anyio.run(lambda: make_loop(odd_clip, out, strategy=strategy))  # type: ignore[arg-type]
    info = probe(out)
    assert (info.width, info.height) == (852, 478)
    assert info.frames == result.frames
    assert any("852x478" in note and "853x479" in note for note in result.notes), result.notes
