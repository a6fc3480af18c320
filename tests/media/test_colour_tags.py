"""Every kind of output is fully tagged BT.709 (primaries, transfer, matrix, limited range).

The bundled ffmpeg takes the colour tags from the frames, not from `-color_primaries` and
friends, so an output whose frames carry no tags came out with only the matrix set and
"unknown" primaries and transfer. Probed on the written files.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import av
import pytest

from reelforge.media.animatic import render_animatic
from reelforge.media.join import join_continuation
from reelforge.media.loop import make_loop
from tests.media_utils import make_clip

#: FFmpeg enum values: AVCOL_PRI_BT709, AVCOL_TRC_BT709, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG.
BT709_LIMITED = (1, 1, 1, 1)


def _tags(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return (int(frame.color_primaries), int(frame.color_trc), int(frame.colorspace), int(frame.color_range))


def _untagged_clip(path: Path) -> Path:
    """A clip with no colour tags at all (like most generator downloads)."""
    return make_clip(path, 1.0, (160, 90), 24, pattern="testsrc2", extra_args=["-color_primaries", "unknown"])


@pytest.mark.slow
def test_loop_output_is_fully_tagged(tmp_path: Path) -> None:
    src = _untagged_clip(tmp_path / "src.mp4")
    for strategy in ("crossfade", "search", "pingpong"):
        out = tmp_path / f"loop-{strategy}.mp4"
        anyio.run(lambda: make_loop(src, out, strategy=strategy))  # noqa: B023 (run at once)
        assert _tags(out) == BT709_LIMITED, strategy


def test_repeated_loop_output_is_fully_tagged(tmp_path: Path) -> None:
    src = _untagged_clip(tmp_path / "src.mp4")
    out = tmp_path / "loop.mp4"
    anyio.run(lambda: make_loop(src, out, strategy="crossfade", repeat=2))
    assert _tags(out) == BT709_LIMITED


def test_preview_animatic_is_fully_tagged(tmp_path: Path) -> None:
    out = tmp_path / "preview.mp4"
    anyio.run(lambda: render_animatic(out, width=160, height=90, fps=12, duration_s=0.5, seed=1, prompt="tags"))
    assert _tags(out) == BT709_LIMITED


def test_extend_join_output_is_fully_tagged(tmp_path: Path) -> None:
    first = _untagged_clip(tmp_path / "first.mp4")
    cont = make_clip(tmp_path / "cont.mp4", 1.0, (160, 90), 24, pattern="still")
    out = tmp_path / "joined.mp4"
    anyio.run(lambda: join_continuation(first, cont, out))
    assert _tags(out) == BT709_LIMITED
