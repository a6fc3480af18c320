"""A clip too short for the output rate is refused with a message that names it and the cause."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from reelforge.errors import InvalidRequest
from reelforge.timeline import render_timeline
from reelforge.timeline.spec import ClipSpec, TimelineSpec
from tests.media_utils import make_clip
from tests.timeline.conftest import decode


def test_one_frame_clip_is_named_with_its_cause(clip_a: Path, tmp_path: Path) -> None:
    one = make_clip(tmp_path / "single.mp4", 1 / 30, (160, 90), 30)  # one frame of 1/30 s
    spec = TimelineSpec(clips=[ClipSpec(path=str(clip_a)), ClipSpec(path=str(one))], preset="draft", fps=24)
    with pytest.raises(InvalidRequest) as info:
        anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    err = info.value
    assert "below 0 s" not in err.message
    assert "clips[1]" in err.message and "single.mp4" in err.message
    assert "1 frame" in err.message and "24 fps" in err.message  # the cause: shorter than an output frame
    assert err.param == "clips[1].path"
    assert err.hint and "fps" in err.hint  # what to do


def test_one_frame_clip_at_its_own_rate_is_one_frame(clip_a: Path, tmp_path: Path) -> None:
    # 1/30 s probes as 0.033333 s: it must still count as one whole frame at 30 fps.
    one = make_clip(tmp_path / "single.mp4", 1 / 30, (160, 90), 30)
    spec = TimelineSpec(clips=[ClipSpec(path=str(clip_a), out_s=0.5), ClipSpec(path=str(one))], preset="draft",
                        orientation="1:1", fps=30)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    assert result.expected_frames == 15 + 1
    assert decode(Path(result.path)).frames == 16
