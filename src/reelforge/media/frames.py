"""Exact frames out of a video: the last frame (for extend), any frame, posters, contact sheets.

All RGB conversion goes through `to_rgb`, which names the colour matrix explicitly: PyAV's default
treats untagged video as BT.601, and a BT.601/BT.709 mismatch (up to 32 levels) is larger than
the change between adjacent frames of a slow shot, i.e. a visible seam. reelforge encodes and
decodes BT.709 everywhere; a frame tagged BT.601 or BT.2020 is decoded with its own matrix.

The last frame is found by seeking to about 2 s before the video stream's end and decoding to
EOF (exact for B-frames, VFR and audio longer than video). `-sseof` is never used: it seeks
relative to the container end and silently writes nothing when audio outlasts video.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image, ImageDraw, ImageFont

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.probe import probe

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Seek this far before the end of the video stream; decode-to-EOF covers the rest.
_LAST_FRAME_BACKOFF_S = 2.0
#: AVColorSpace codes that are not BT.709 and that we honour when a file is tagged with them.
_MATRIX_BY_TAG = {5: Colorspace.ITU601, 6: Colorspace.ITU601, 9: Colorspace.BT2020, 10: Colorspace.BT2020}
_JPEG_RANGE_TAG = 2
_POSTER_MAX_BYTES = 150_000


@dataclass(frozen=True)
class LastFrame:
    """The final displayed frame of a video: RGB pixels, its time and its index."""

    rgb: np.ndarray  # (height, width, 3) uint8
    pts_s: float  # presentation time relative to the start of the video stream
    index: int  # 0-based frame number (frames - 1)


def to_rgb(frame: av.VideoFrame, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Convert a decoded frame to an RGB uint8 array with an explicit colour matrix and range."""
    matrix = _MATRIX_BY_TAG.get(frame.colorspace, Colorspace.ITU709)
    color_range = ColorRange.JPEG if frame.color_range == _JPEG_RANGE_TAG else ColorRange.MPEG
    if frame.format.name.startswith("yuvj"):
        color_range = ColorRange.JPEG
    rgb = frame.reformat(
        width=width, height=height, format="rgb24",
        src_colorspace=matrix, dst_colorspace=matrix,
        src_color_range=color_range, dst_color_range=ColorRange.JPEG,
    )
    return rgb.to_ndarray()


def _open_video(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path.name} could not be decoded ({exc.__class__.__name__}).") from None
    if not container.streams.video:
        container.close()
        raise InvalidRequest(f"{path.name} has no video stream.", param="path", hint="Pass a video file.")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _seconds(pts: int | None, stream: av.video.stream.VideoStream) -> float:
    start = stream.start_time or 0
    return float(((pts or 0) - start) * stream.time_base)


def decode_last(path: Path | str, convert: Callable[[av.VideoFrame], T]) -> tuple[T, float, int]:
    """(convert(last frame), its seconds, its index): seek ~2 s before the video end, decode to EOF.

    `convert` runs while the container is open (a frame must not outlive it).
    """
    path = Path(path)
    info = probe(path)
    container, stream = _open_video(path)
    with container:
        target_s = max(0.0, info.duration_s - _LAST_FRAME_BACKOFF_S)
        start = stream.start_time or 0
        container.seek(start + int(target_s / stream.time_base), stream=stream, backward=True, any_frame=False)
        last = None
        for frame in container.decode(stream):
            last = frame
        if last is None:
            raise MediaError(f"No frame could be decoded near the end of {path.name}.")
        return convert(last), _seconds(last.pts, stream), info.frames - 1


def last_frame(path: Path | str, *, square_pixels: bool = False) -> LastFrame:
    """The exact last frame of a video (RGB, BT.709 unless tagged otherwise), its time and index.

    `square_pixels` widens or narrows an anamorphic frame (sample aspect ratio not 1:1) to the
    picture a viewer sees, which is what an image-to-video model must be shown.
    """
    size: tuple[int | None, int | None] = (None, None)
    if square_pixels:
        info = probe(path)
        num, _, den = (info.sample_aspect_ratio or "1:1").partition(":")
        if num.isdigit() and den.isdigit() and int(num) and int(den) and num != den:
            size = (max(2, round(info.width * int(num) / int(den) / 2) * 2), info.height)
    rgb, pts_s, index = decode_last(path, lambda frame: to_rgb(frame, *size))
    return LastFrame(rgb=rgb, pts_s=pts_s, index=index)


def _resolve_index(index: int, frames: int, path: Path) -> int:
    resolved = index + frames if index < 0 else index
    if not 0 <= resolved < frames:
        raise InvalidRequest(
            f"Frame index {index} is out of range for {path.name}, which has {frames} frames.",
            param="index", hint=f"Use 0..{frames - 1}, or a negative index counted from the end.",
        )
    return resolved


def frame_at(path: Path | str, index: int) -> np.ndarray:
    """Decode frame number `index` (0-based; negative counts from the end) as RGB."""
    path = Path(path)
    info = probe(path)
    index = _resolve_index(index, info.frames, path)
    for found, _pts, rgb in sample_frames(path, [index]):
        if found == index:
            return rgb
    raise MediaError(f"Frame {index} of {path.name} could not be decoded.")


def sample_frames(
    path: Path | str, indices: Iterable[int], width: int | None = None
) -> list[tuple[int, float, np.ndarray]]:
    """Decode the frames at `indices` in one linear pass: (index, seconds, RGB) in index order.

    `width` scales each kept frame (height keeps the aspect ratio, rounded to even). Only the
    kept frames are converted to RGB, so the cost is close to a plain decode of the file.
    """
    wanted = sorted(set(indices))
    if not wanted:
        return []
    container, stream = _open_video(Path(path))
    out: list[tuple[int, float, np.ndarray]] = []
    with container:
        targets = iter(wanted)
        target = next(targets)
        for i, frame in enumerate(container.decode(stream)):
            if i != target:
                continue
            size = _scaled_size(frame.width, frame.height, width)
            out.append((i, _seconds(frame.pts, stream), to_rgb(frame, *size)))
            target = next(targets, None)
            if target is None:
                break
    return out


def _scaled_size(w: int, h: int, width: int | None) -> tuple[int | None, int | None]:
    if width is None or width >= w:
        return None, None
    return width, max(2, int(round(h * width / w / 2)) * 2)


def atomic_save(image: Image.Image, path: Path, **save_kwargs: object) -> Path:
    """Save with Pillow to a `.partial-` file beside `path`, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        image.save(tmp, **save_kwargs)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_png(rgb: np.ndarray, path: Path | str) -> Path:
    """Write an RGB (h, w, 3) uint8 array as a lossless PNG, atomically."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (h, w, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    return atomic_save(Image.fromarray(rgb), Path(path), format="PNG")


def _save_jpeg(image: Image.Image, path: Path, max_bytes: int = _POSTER_MAX_BYTES) -> Path:
    """Save as JPEG, lowering quality until the file is under `max_bytes`."""
    quality = 85
    while True:
        atomic_save(image, path, format="JPEG", quality=quality, optimize=True)
        if path.stat().st_size <= max_bytes or quality <= 35:
            return path
        quality -= 15


def _pick_representative(samples: list[tuple[int, float, np.ndarray]]) -> np.ndarray:
    """The sample whose colour histogram is closest to the average (ffmpeg `thumbnail` idea),
    skipping near-flat frames (black fades, title slates) when anything better exists."""
    return samples[_representative(samples)][2]


def _representative(samples: list[tuple[int, float, np.ndarray]]) -> int:
    """The position in `samples` of the representative one (see `_pick_representative`)."""
    hists = np.stack([
        np.concatenate([np.bincount(rgb[..., c].ravel() >> 3, minlength=32) for c in range(3)]) / rgb[..., 0].size
        for _, _, rgb in samples
    ])
    distance = ((hists - hists.mean(axis=0)) ** 2).sum(axis=1)
    flat = np.array([float(rgb.std()) < 8.0 for _, _, rgb in samples])
    if not flat.all():
        distance[flat] = np.inf
    return int(np.argmin(distance))


def _poster_indices(frames: int) -> list[int]:
    # Candidates spread over the middle 90 %: avoid fade-ins and end slates.
    lo, hi = int(frames * 0.05), max(int(frames * 0.95) - 1, int(frames * 0.05))
    return np.linspace(lo, hi, num=min(12, frames)).round().astype(int).tolist()


def _sheet_indices(frames: int, tiles: int) -> list[int]:
    return np.linspace(0, frames - 1, num=min(tiles, frames)).round().astype(int).tolist()


def poster(video: Path | str, out_jpg: Path | str, max_width: int = 640) -> Path:
    """Write a representative frame of `video` as a JPEG (≤ `max_width` px wide, under 150 KB)."""
    video, out_jpg = Path(video), Path(out_jpg)
    samples = sample_frames(video, _poster_indices(probe(video).frames), width=max_width)
    return _write_poster(samples, video, out_jpg)


def _write_poster(samples: list[tuple[int, float, np.ndarray]], video: Path, out_jpg: Path) -> Path:
    if not samples:
        raise MediaError(f"No frames could be decoded from {video.name} for a poster.")
    return _save_jpeg(Image.fromarray(_pick_representative(samples)), out_jpg)


#: The longest side of the small poster a tool result carries inline (what a model pays to look at).
INLINE_POSTER_PX = 512


def poster_and_sheet(video: Path | str, frames: int, poster_jpg: Path | str, sheet_jpg: Path | str,
                     poster_width: int = 640, tile_width: int = 320, cols: int = 4, rows: int = 4,
                     inline_jpg: Path | str | None = None) -> tuple[Path, Path]:
    """The poster and the contact sheet from ONE decode of `video` (whose frame count the caller has
    probed). Post-processing was two decodes, three probes and 28 full-size conversions per job; now
    the poster's candidates are judged on 160 px thumbnails and only the chosen one is converted at
    the poster's width (its decoded frame is kept until then), and each tile is converted once."""
    video = Path(video)
    poster_at, sheet_at = set(_poster_indices(frames)), set(_sheet_indices(frames, cols * rows))
    last = max(poster_at | sheet_at, default=-1)
    thumbs: list[tuple[int, float, np.ndarray]] = []
    kept: dict[int, av.VideoFrame] = {}
    tiles: list[tuple[int, float, np.ndarray]] = []
    container, stream = _open_video(video)
    with container:
        for i, frame in enumerate(container.decode(stream)):
            if i in sheet_at:
                tiles.append((i, _seconds(frame.pts, stream), to_rgb(frame, *_scaled_size(frame.width, frame.height, tile_width))))
            if i in poster_at:
                thumbs.append((i, _seconds(frame.pts, stream), to_rgb(frame, *_scaled_size(frame.width, frame.height, 160))))
                kept[i] = frame
            if i >= last:
                break
        if not thumbs:
            raise MediaError(f"No frames could be decoded from {video.name} for a poster.")
        chosen = kept[thumbs[_representative(thumbs)][0]]
        rgb = to_rgb(chosen, *_scaled_size(chosen.width, chosen.height, poster_width))
    picture = Image.fromarray(rgb)
    made_poster = _save_jpeg(picture, Path(poster_jpg))
    if inline_jpg is not None:  # made here, from the picture in hand: every tool result re-made it on the event loop
        save_inline_poster(picture, Path(inline_jpg))
    return made_poster, _write_sheet(tiles, video, Path(sheet_jpg), cols)


def save_inline_poster(picture: Image.Image, path: Path) -> Path:
    """The poster a tool result carries inline: at most INLINE_POSTER_PX on its longest side."""
    small = picture.copy()
    small.thumbnail((INLINE_POSTER_PX, INLINE_POSTER_PX))
    return atomic_save(small, path, format="JPEG", quality=80)


def _timestamp(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{secs:05.2f}"


def contact_sheet(video: Path | str, out_jpg: Path | str, cols: int = 4, rows: int = 4, tile_width: int = 320) -> Path:
    """Write a grid of evenly spaced frames with their timestamps as one JPEG.

    One linear decode; tiles are never upscaled beyond the source width. A clip with fewer
    frames than tiles gets one tile per frame (and fewer rows).
    """
    if cols < 1 or rows < 1 or tile_width < 16:
        raise InvalidRequest("contact_sheet needs cols >= 1, rows >= 1 and tile_width >= 16.", param="cols")
    video, out_jpg = Path(video), Path(out_jpg)
    samples = sample_frames(video, _sheet_indices(probe(video).frames, cols * rows), width=tile_width)
    return _write_sheet(samples, video, out_jpg, cols)


def _write_sheet(samples: list[tuple[int, float, np.ndarray]], video: Path, out_jpg: Path, cols: int) -> Path:
    if not samples:
        raise MediaError(f"No frames could be decoded from {video.name} for a contact sheet.")
    tile_h, tile_w = samples[0][2].shape[:2]
    pad = 4
    used_rows = math.ceil(len(samples) / cols)
    sheet = Image.new("RGB", (cols * (tile_w + pad) + pad, used_rows * (tile_h + pad) + pad), (24, 24, 24))
    font_px = max(10, tile_h // 9)
    for n, (_index, seconds, rgb) in enumerate(samples):
        x, y = pad + (n % cols) * (tile_w + pad), pad + (n // cols) * (tile_h + pad)
        sheet.paste(Image.fromarray(rgb), (x, y))
        stamp, left, top = _stamp(_timestamp(seconds), font_px)
        sheet.paste(stamp, (x + 4 + left, y + tile_h - 4 + top), stamp)  # its anchor (left, descender) there
    return _save_jpeg(sheet, out_jpg, max_bytes=400_000)


@functools.lru_cache(maxsize=256)
def _stamp(text: str, font_px: int) -> tuple[Image.Image, int, int]:
    """A timestamp drawn once (white, black outline, over transparency) and where its anchor's
    box starts. Rendering an outlined glyph run holds the GIL (FreeType's stroker) and each sheet
    draws a dozen: at hundreds of jobs that stalled the event loop, while the same few stamps repeat
    from clip to clip."""
    font = ImageFont.load_default(size=font_px)
    left, top, right, bottom = font.getbbox(text, stroke_width=2, anchor="ld")
    image = Image.new("RGBA", (right - left, bottom - top))
    ImageDraw.Draw(image).text((-left, -top), text, font=font, fill="white", stroke_width=2, stroke_fill="black",
                               anchor="ld")
    return image, left, top
