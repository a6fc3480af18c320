"""A batch's clips composed into one video: side by side in a grid, or one after another.

Each clip is labelled with a `media.labels` strip (the comparison sheet's labels) burnt in on a band
under its picture, so nothing of the picture is covered. Every clip is fitted into one picture box
(letterboxed on the label background, never stretched or cropped) and resampled to one frame rate:
the first clip's aspect ratio, the largest clip's size, the highest rate (at most 60 fps), the whole
frame at most 1920 wide.

- **side_by_side**: up to `MAX_TILES` clips in a grid (2 up, 2x2, 3x2, 3x3), all starting together;
  a shorter clip holds its last frame until the longest one ends. One ffmpeg pass: the labelled
  canvas (drawn once with Pillow) is the background and each clip is overlaid on its tile.
- **sequential**: each clip becomes a segment on its own labelled frame (one ffmpeg run each, so a
  long reel never holds every decoder open at once), encoded with identical parameters, then the
  segments are stream-copied together. Its length is the sum of the clips' (each to the frame).

The reel is silent: clips from different providers have audio or not, and mixing many tracks into
one comparison is noise. Labels and geometry come back as a `ReelLayout` (tests probe them).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anyio

from reelforge.errors import InvalidRequest
from reelforge.media.comparison import Box
from reelforge.media.ffmpeg import RGB_TO_BT709, h264_args, run_ffmpeg
from reelforge.media.labels import BACKGROUND, label_strip, strip_height

if TYPE_CHECKING:  # PyAV, numpy and Pillow load when a reel is drawn, not when a batch is planned
    from PIL import Image

    from reelforge.media.probe import MediaInfo

ReelKind = Literal["side_by_side", "sequential"]
#: The most clips a side-by-side grid shows (3x3): smaller tiles than a third of 1920 px stop being comparable.
MAX_TILES = 9
#: The most clips one sequential reel strings together (each is one ffmpeg run).
MAX_SEQUENTIAL = 100
MAX_WIDTH = 1920
MAX_FPS = 60
GAP = 8  # between tiles, in the label background colour
_SCRATCH = ".reel-scratch-"  # beside the reel: segments can be large, and the job's folder has room
_TIMEOUT_S = 900.0  # one ffmpeg run; a 3x3 grid of 10 s 720p clips takes well under a minute


@dataclass(frozen=True)
class ReelClip:
    path: Path
    label: list[str]  # one entry per line


@dataclass(frozen=True)
class ReelLayout:
    """Where each clip's picture and label went, and when it starts (all zero side by side)."""

    path: Path
    kind: ReelKind
    width: int
    height: int
    fps: int | Fraction
    frames: int
    font_px: int  # the labels' size
    pictures: list[Box]
    labels: list[Box]
    starts_s: list[float]

    @property
    def duration_s(self) -> float:
        return self.frames / float(self.fps)


def grid(count: int) -> tuple[int, int]:
    """(columns, rows) for `count` tiles: 1, 2 up, 2x2, 3x2, 3x3."""
    if not 1 <= count <= MAX_TILES:
        raise InvalidRequest(f"A side-by-side reel shows 1 to {MAX_TILES} clips, not {count}.", param="reel",
                             hint="Use reel='sequential', or split the batch.")
    cols = 1 if count == 1 else 2 if count <= 4 else 3
    return cols, math.ceil(count / cols)


def check_count(kind: ReelKind, count: int) -> None:
    """Refuse a reel of more clips than its kind holds (a batch checks this before anything is paid)."""
    if kind == "side_by_side":
        grid(count)
    elif count > MAX_SEQUENTIAL:
        raise InvalidRequest(f"A sequential reel strings at most {MAX_SEQUENTIAL} clips, not {count}.",
                             param="reel", hint="Split the batch, or leave reel out.")


def _even(n: float) -> int:
    return max(2, int(n) - int(n) % 2)


@dataclass(frozen=True)
class _Frame:
    """The common picture box, rate and label size every clip is fitted to."""

    picture_w: int
    picture_h: int
    fps: int | Fraction
    font_px: int
    label_h: int


def _frame(infos: list[MediaInfo], labels: list[list[str]], max_picture_w: int) -> _Frame:
    from reelforge.media.join import constant_rate, even_size

    aspect = infos[0].width / infos[0].height
    width = min(max(i.width for i in infos), max_picture_w)
    height = width / aspect
    if height > MAX_WIDTH:  # a tall clip: the frame's long side stays within the limit too
        width, height = MAX_WIDTH * aspect, MAX_WIDTH
    pw, ph = even_size(_even(width), _even(height))
    fps = constant_rate(min(MAX_FPS, max(i.fps for i in infos)))
    font_px = max(10, min(32, pw // 28))
    return _Frame(pw, ph, fps, font_px, _even(strip_height(max(map(len, labels)), font_px) + 1))


def _fit(fr: _Frame) -> str:
    """Scale a clip into the picture box (aspect kept) on the clip's own frame rate grid."""
    return (f"fps={fr.fps},scale={fr.picture_w}:{fr.picture_h}:force_original_aspect_ratio=decrease"
            f":force_divisible_by=2,setsar=1")


def _centred(box: Box, fr: _Frame) -> str:
    """overlay x:y that centres the fitted clip (w x h) inside its picture box."""
    return f"x={box.left}+({fr.picture_w}-w)/2:y={box.top}+({fr.picture_h}-h)/2"


async def compose_reel(kind: ReelKind, clips: list[ReelClip], out: Path) -> ReelLayout:
    """Write the reel of `clips` at `out` (MP4, H.264, silent) and say where everything went."""
    if not clips:
        raise InvalidRequest("A reel needs at least one clip.", param="reel")
    check_count(kind, len(clips))
    from reelforge.media.probe import probe

    infos = [await anyio.to_thread.run_sync(probe, c.path) for c in clips]
    labels = [c.label for c in clips]
    for stale in out.parent.glob(f"{_SCRATCH}*"):  # left by a run that was killed (a restarted job redraws its reel)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=_SCRATCH, dir=out.parent) as tmp:
        if kind == "side_by_side":
            return await _side_by_side(clips, infos, out, Path(tmp))
        return await _sequential(clips, infos, labels, out, Path(tmp))


async def _side_by_side(clips: list[ReelClip], infos: list[MediaInfo], out: Path, tmp: Path) -> ReelLayout:
    from PIL import Image

    from reelforge.media.join import even_size

    cols, rows = grid(len(clips))
    fr = _frame(infos, [c.label for c in clips], (MAX_WIDTH - (cols + 1) * GAP) // cols)
    cell_w, cell_h = fr.picture_w + GAP, fr.picture_h + fr.label_h + GAP
    width, height = even_size(cols * cell_w + GAP, rows * cell_h + GAP)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    pictures, label_boxes = [], []
    for n, clip in enumerate(clips):
        left, top = GAP + (n % cols) * cell_w, GAP + (n // cols) * cell_h
        pictures.append(Box(left, top, left + fr.picture_w, top + fr.picture_h))
        label_boxes.append(Box(left, top + fr.picture_h, left + fr.picture_w, top + fr.picture_h + fr.label_h))
        canvas.paste(label_strip(clip.label, fr.picture_w, fr.font_px, fr.label_h), (left, top + fr.picture_h))
    canvas.save(tmp / "canvas.png")
    frames = max(1, round(max(i.duration_s for i in infos) * float(fr.fps)))
    args = ["-loop", "1", "-framerate", str(fr.fps), "-i", tmp / "canvas.png"]
    graph = [f"[0:v]{RGB_TO_BT709}[bg0]"]
    for n, clip in enumerate(clips):
        args += ["-i", clip.path]
        graph.append(f"[{n + 1}:v]{_fit(fr)}[c{n}]")
        # eof_action=repeat: a clip that ends first holds its last frame until the reel ends.
        graph.append(f"[bg{n}][c{n}]overlay={_centred(pictures[n], fr)}:eof_action=repeat:format=yuv420[bg{n + 1}]")
    graph.append(f"[bg{len(clips)}]setsar=1[v]")
    args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-an", "-frames:v", str(frames), *h264_args(fr.fps)]
    await run_ffmpeg(args, out, duration_s=frames / float(fr.fps), timeout_s=_TIMEOUT_S)
    return ReelLayout(out, "side_by_side", width, height, fr.fps, frames, fr.font_px, pictures, label_boxes,
                      [0.0] * len(clips))


async def _sequential(clips: list[ReelClip], infos: list[MediaInfo], labels: list[list[str]], out: Path,
                      tmp: Path) -> ReelLayout:
    fr = _frame(infos, labels, MAX_WIDTH)
    width, height = fr.picture_w, fr.picture_h + fr.label_h
    picture = Box(0, 0, width, fr.picture_h)
    label_box = Box(0, fr.picture_h, width, height)
    keyint = max(1, round(float(fr.fps)))
    segments, starts, total = [], [], 0
    for n, (clip, info) in enumerate(zip(clips, infos)):
        card = tmp / f"card{n}.png"
        _card(width, height, fr, clip.label).save(card)
        frames = max(1, round(info.duration_s * float(fr.fps)))
        segment = tmp / f"segment{n}.mp4"
        graph = (f"[0:v]{RGB_TO_BT709}[bg];[1:v]{_fit(fr)}[c];"
                 f"[bg][c]overlay={_centred(picture, fr)}:eof_action=repeat:format=yuv420,setsar=1[v]")
        # One keyframe interval for every segment: they are stream-copied together after.
        await run_ffmpeg(["-loop", "1", "-framerate", str(fr.fps), "-i", card, "-i", clip.path,
                          "-filter_complex", graph, "-map", "[v]", "-an", "-frames:v", str(frames),
                          *h264_args(fr.fps, keyint=keyint)], segment, timeout_s=_TIMEOUT_S)
        segments.append(segment)
        starts.append(total / float(fr.fps))
        total += frames
    listing = tmp / "segments.txt"
    listing.write_text("".join(f"file '{s.name}'\n" for s in segments), encoding="utf-8")
    await run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", "-movflags", "+faststart"], out,
                     timeout_s=_TIMEOUT_S)
    return ReelLayout(out, "sequential", width, height, fr.fps, total, fr.font_px, [picture] * len(clips),
                      [label_box] * len(clips), starts)


def _card(width: int, height: int, fr: _Frame, label: list[str]) -> Image.Image:
    """A segment's background: the picture box empty, its label on the band under it."""
    from PIL import Image

    card = Image.new("RGB", (width, height), BACKGROUND)
    card.paste(label_strip(label, width, fr.font_px, fr.label_h), (0, fr.picture_h))
    return card
