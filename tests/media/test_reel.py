"""The batch reel, probed: size, codec, frame rate and length (the longest clip side by side, the sum
one after another), each clip's picture in its own tile or segment (a shorter clip holding its last
frame), and each label strip holding exactly its own label, compared with labels drawn here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import imageio_ffmpeg
import numpy as np
import pytest
from label_utils import check_labels, crop
from media_utils import make_clip

from reelforge.errors import InvalidRequest
from reelforge.media.frames import frame_at
from reelforge.media.probe import probe
from reelforge.media.reel import MAX_TILES, ReelClip, compose_reel, grid

COLOURS = [(220, 40, 40), (40, 200, 60), (40, 80, 220), (230, 200, 30), (200, 40, 200)]
LABELS = [["runway / gen4.5", "$0.60  41.2 s"], ["luma / ray-2", "$0.40  35.0 s"], ["minimax / hailuo", "$0.27  9.9 s"],
          ["مزود / نموذج", "$1.00  2.0 s"], ["提供者 / 模型", "$0.10  3.0 s"]]


def _colour_clip(path: Path, colour: tuple[int, int, int], seconds: float, size: tuple[int, int], fps: int) -> Path:
    hexa = "0x%02x%02x%02x" % colour
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c={hexa}:size={size[0]}x{size[1]}:rate={fps}:duration={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
                    "-color_trc", "bt709", str(path)], check=True, capture_output=True, timeout=120)
    return path


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_side_by_side_plays_clips_together_each_labelled_in_its_tile(tmp_path: Path) -> None:
    seconds = [1.0, 2.0, 1.5, 0.5, 2.0]
    clips = [ReelClip(_colour_clip(tmp_path / f"c{i}.mp4", c, s, (640, 360), 24), LABELS[i])
             for i, (c, s) in enumerate(zip(COLOURS, seconds))]
    layout = anyio.run(compose_reel, "side_by_side", clips, tmp_path / "reel.mp4")
    info = probe(layout.path)
    assert (info.width, info.height, info.codec, info.has_audio) == (layout.width, layout.height, "h264", False)
    assert info.width <= 1920 and len({b.left for b in layout.pictures}) == 3  # 3x2 for five clips
    assert abs(info.duration_s - max(seconds)) <= 1 / info.fps  # the longest clip's length, within a frame
    for at in (0.25, 1.9):  # while all play, and after the short ones ended (they hold their last frame)
        frame = frame_at(layout.path, round(at * info.fps))
        for n, colour in enumerate(COLOURS):
            mean = crop(frame, layout.pictures[n]).reshape(-1, 3).mean(axis=0)
            assert np.abs(mean - colour).max() < 12, f"tile {n} at {at} s is {mean}, not its clip's {colour}"
        check_labels(frame, layout.labels, LABELS, list(range(5)), layout.font_px, latin=3)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sequential_strings_clips_one_after_another_normalised(tmp_path: Path) -> None:
    clips = [ReelClip(_colour_clip(tmp_path / "a.mp4", COLOURS[0], 1.0, (320, 180), 24), LABELS[0]),
             ReelClip(make_clip(tmp_path / "b.mp4", 1.5, (160, 90), 24, pattern="testsrc2"), LABELS[1]),
             ReelClip(_colour_clip(tmp_path / "c.mp4", COLOURS[2], 0.5, (160, 90), 24), LABELS[2])]
    layout = anyio.run(compose_reel, "sequential", clips, tmp_path / "reel.mp4")
    info = probe(layout.path)
    assert (info.width, info.height, info.codec, info.fps) == (layout.width, layout.height, "h264", 24.0)
    assert layout.width == 320  # the largest clip's size; the smaller ones are scaled into it
    assert abs(info.duration_s - 3.0) <= 1 / 24 and info.frames == 72
    assert layout.starts_s == [0.0, 1.0, 2.5]
    for n, start in enumerate(layout.starts_s):
        frame = frame_at(layout.path, round((start + 0.2) * 24))
        check_labels(frame, layout.labels, LABELS[:3], [n], layout.font_px)
        if n != 1:
            mean = crop(frame, layout.pictures[n]).reshape(-1, 3).mean(axis=0)
            assert np.abs(mean - COLOURS[n]).max() < 12, f"segment {n} shows {mean}"


def test_grids_and_their_limit() -> None:
    assert [grid(n) for n in (1, 2, 3, 4, 5, 6, 7, 9)] == [(1, 1), (2, 1), (2, 2), (2, 2), (3, 2), (3, 2), (3, 3), (3, 3)]
    with pytest.raises(InvalidRequest) as refused:
        grid(MAX_TILES + 1)
    assert refused.value.param == "reel" and "sequential" in (refused.value.hint or "")
