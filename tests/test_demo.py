"""The README's first command: `reelforge demo` drives the real server over stdio and prints
playable files (generated, extended, looped, composed), which we probe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reelforge.media.probe import probe


@pytest.mark.slow
def test_demo_prints_playable_clip_loop_and_timeline(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "reelforge", "demo", "--home", str(tmp_path / "home")],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    paths = dict(re.findall(r"^(generated|extended|loop|timeline)\s+(\S+\.mp4)$", out.stdout, re.M))
    assert set(paths) == {"generated", "extended", "loop", "timeline"}, out.stdout
    for label, path in paths.items():
        info = probe(path)
        assert info.codec == "h264" and info.frames > 0 and info.duration_s > 0, label
        assert Path(path).is_relative_to(tmp_path / "home" / "outputs")
    assert probe(paths["extended"]).frames > probe(paths["generated"]).frames
    assert re.search(r"seam ratio \d", out.stdout)
    assert re.search(r"OpenTimelineIO: \S+\.otio", out.stdout) and "poster: " in out.stdout
