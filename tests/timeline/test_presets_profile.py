"""Every preset writes the H.264 profile the docs promise (High), probed on the written file."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import av
import pytest

from reelforge.timeline import render_timeline
from reelforge.timeline.presets import PRESETS
from reelforge.timeline.spec import ClipSpec, TimelineSpec

DOCS = Path(__file__).resolve().parents[2] / "docs" / "timeline.md"


def test_docs_promise_high_profile() -> None:
    assert re.search(r"Every output is H\.264 High", DOCS.read_text())


@pytest.mark.parametrize("preset", ["draft", "standard"])
def test_preset_writes_high_profile(clip_a: Path, tmp_path: Path, preset: str) -> None:
    spec = TimelineSpec(clips=[ClipSpec(path=str(clip_a), out_s=0.5)], preset=preset, orientation="1:1", fps=12)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    with av.open(result.path) as c:
        profile = c.streams.video[0].codec_context.profile
    assert profile == "High", f"{preset} ({PRESETS[preset].x264_preset}) wrote {profile}"
