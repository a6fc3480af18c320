"""Animatics for the free `preview` provider: real H.264 clips rendered on the CPU.

Three looks, all deterministic for a seed:

- text only: a title card of the prompt on a seeded gradient, with a slow push-in and drift;
  the prompt is drawn in any script with the bundled fonts (see `reelforge.media.text`);
- a first frame: Ken Burns motion (slow zoom and pan) over the image fitted to the frame;
- first and last frame: a cross-blend from one to the other under the same gentle motion.

With `loop=True` every motion is periodic in the frame index, so the frame after the last is
the first one again and the loop point is an ordinary frame step.

How it is fast: the card or image is prepared once at the output size; each frame is one Pillow
affine resample (zoom/pan), at most one blend and a small label paste, run in a worker thread
and piped as raw RGB to ffmpeg, which encodes in parallel on the other core. Frame 0 of an
image-driven clip is the fitted image itself (an identity transform), so a continuation that
starts from a clip's last frame really starts on that frame.
"""

from __future__ import annotations

import logging
import math
import random
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from reelforge.errors import InvalidRequest
from reelforge.media.ffmpeg import RGB_TO_BT709, ffmpeg_exe, h264_args, run_ffmpeg
from reelforge.media.text import Line, Typesetter

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float], Awaitable[None]]

MAX_SIDE = 3840
MAX_DURATION_S = 120.0
#: Largest zoom of the slow push-in; small enough that upsampling blur stays invisible.
_ZOOM_IMAGE = 1.12
_ZOOM_CARD = 1.08
_MAX_PROMPT_CHARS = 280
_LABEL = "PREVIEW"


# -- geometry --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Motion:
    """Seeded parameters of the camera path; `pose(p)` gives (zoom, pan_x, pan_y) at phase p."""

    zoom: float
    pan_x: float  # where the pan heads, as a fraction of the room the zoom leaves (-1..1)
    pan_y: float
    phase: float  # loops only: where on its orbit the pan starts
    loop: bool
    there_and_back: bool  # first+last frame: both ends are the untransformed images

    def pose(self, p: float) -> tuple[float, float, float]:
        if self.loop:
            # A closed orbit at nearly constant speed: the pan circles while the zoom breathes a
            # little around its middle, so every step (the loop point included) is alike.
            a = 2 * math.pi * p + self.phase
            zoom = 1.0 + (self.zoom - 1.0) * (0.75 + 0.25 * math.cos(a))
            return zoom, 0.8 * math.cos(a), 0.8 * math.sin(a)
        if self.there_and_back:
            s = math.sin(math.pi * p)  # identity at both ends: frame 0 = first, last frame = last
        else:
            s = p * p * (3 - 2 * p)  # smoothstep: ease in and out
        return 1.0 + (self.zoom - 1.0) * s, self.pan_x, self.pan_y


def _window(width: int, height: int, zoom: float, pan_x: float, pan_y: float) -> tuple[float, float, float, float]:
    """The source box (left, top, right, bottom) a zoomed, panned camera sees.

    The box is the frame scaled by 1/zoom; pan ±1 moves it to the edge of the room the zoom
    leaves, so it never leaves the picture. zoom=1 is the whole frame.
    """
    room_x, room_y = (width - width / zoom) / 2, (height - height / zoom) / 2
    x0 = room_x * (1 + max(-1.0, min(1.0, pan_x)))
    y0 = room_y * (1 + max(-1.0, min(1.0, pan_y)))
    return x0, y0, x0 + width / zoom, y0 + height / zoom


def _warp(image: Image.Image, pose: tuple[float, float, float]) -> Image.Image:
    zoom, pan_x, pan_y = pose
    if zoom <= 1.0 + 1e-9:
        return image  # the exact picture, not a resampled copy
    # resize() with a fractional box is Pillow's fast separable resampler: about 2x faster than
    # an AFFINE transform at 720p, and sub-pixel boxes keep slow motion smooth.
    return image.resize(image.size, Image.Resampling.BILINEAR, box=_window(*image.size, zoom, pan_x, pan_y))


# -- pictures ----------------------------------------------------------------------------------------
def _load_fitted(path: Path, width: int, height: int, param: str) -> Image.Image:
    """The image scaled to cover width x height and centre-cropped (no letterbox bars)."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            rgb = im.convert("RGB")
    except FileNotFoundError:
        raise InvalidRequest(f"No image at {path}.", param=param, hint="Pass the path of an existing image.") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidRequest(f"{path.name} could not be read as an image ({exc.__class__.__name__}).", param=param,
                             hint="Pass a PNG, JPEG or WebP image.") from None
    if rgb.size == (width, height):
        return rgb
    return ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS)


def _seeded_colors(rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """Two dark, related colours (white text stays readable on both)."""
    import colorsys

    hue = rng.random()
    a = colorsys.hsv_to_rgb(hue, 0.55 + 0.3 * rng.random(), 0.30 + 0.15 * rng.random())
    b = colorsys.hsv_to_rgb((hue + 0.12 + 0.25 * rng.random()) % 1.0, 0.5 + 0.3 * rng.random(),
                            0.12 + 0.1 * rng.random())
    return np.array(a, np.float32) * 255, np.array(b, np.float32) * 255


def _fit_text(text: str, width: int, height: int, setter: Typesetter) -> tuple[int, list[Line], int]:
    """The largest size whose wrapped text fits 80 % of the width and 60 % of the height."""
    size = max(10, height // 9)
    while True:
        lines = list(setter.layout(text, size, width * 0.8).lines)
        line_h = int(size * 1.25)
        if len(lines) * line_h <= height * 0.6 or size <= 10:
            return size, lines, line_h
        size = max(10, int(size * 0.88))


def _burn_text(card: Image.Image, lines: list[Line], px: int, line_h: int, stroke: int) -> Image.Image:
    """Draw the lines centred on the card with ffmpeg's drawtext (HarfBuzz shaping and FriBiDi
    order in the bundled binary: Arabic joins, Devanagari conjuncts form), one drawtext per run."""
    width, height = card.size
    top = (height - len(lines) * line_h) / 2 - line_h * 0.2
    with tempfile.TemporaryDirectory(prefix="reelforge-text-") as tmp:
        folder = Path(tmp)
        fonts: dict[Path, str] = {}
        filters = []
        for k, line in enumerate(lines):
            # Runs of different fonts share a baseline; 0.35 em below the line's middle centres
            # the text's ascent and descent in the line box.
            baseline = top + k * line_h + line_h / 2 + 0.35 * px
            left = (width - line.width) / 2
            for i, run in enumerate(line.runs):
                if not run.text.strip():
                    continue
                if run.font not in fonts:
                    fonts[run.font] = f"font{len(fonts)}{run.font.suffix}"
                    (folder / fonts[run.font]).symlink_to(run.font)
                (folder / f"run{k}-{i}.txt").write_text(run.text, encoding="utf-8")
                # Plain relative names (ffmpeg runs in the folder): nothing in the filter needs escaping.
                filters.append(
                    f"drawtext=fontfile={fonts[run.font]}:textfile=run{k}-{i}.txt:expansion=none:fontsize={px}"
                    f":fontcolor=0xF5F5F0:borderw={stroke}:bordercolor=black"
                    f":x={left + run.x:.2f}:y={baseline:.2f}:y_align=baseline"
                )
        if not filters:
            return card
        argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "pipe:0",
                "-vf", ",".join(filters), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        done = subprocess.run(argv, input=card.tobytes(), capture_output=True, cwd=folder, timeout=120, check=False)
    if done.returncode != 0 or len(done.stdout) != width * height * 3:
        raise RuntimeError(f"drawing the title card text failed: {done.stderr.decode(errors='replace')[-500:]}")
    return Image.frombytes("RGB", (width, height), done.stdout)


def _title_card(prompt: str, width: int, height: int, rng: random.Random, caption: str) -> Image.Image:
    """A seeded gradient with the wrapped prompt centred and a small caption below.

    Characters no bundled font has are left out (the provider names them in the job's notes)."""
    c0, c1 = _seeded_colors(rng)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = ((xs / width - 0.5) * math.cos(angle) + (ys / height - 0.5) * math.sin(angle)) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    # A soft off-centre glow gives the motion something to show on the flat parts.
    gx, gy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    glow = np.exp(-(((xs - gx) / (0.45 * width)) ** 2 + ((ys - gy) / (0.45 * height)) ** 2))[..., None]
    rgb = c0 * (1 - t) + c1 * t + glow * 40.0
    card = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))

    text = " ".join(prompt.split())
    if len(text) > _MAX_PROMPT_CHARS:
        text = text[: _MAX_PROMPT_CHARS - 3].rstrip() + "..."
    px, lines, line_h = _fit_text(text, width, height, Typesetter())
    card = _burn_text(card, lines, px, line_h, stroke=max(1, line_h // 20))
    draw = ImageDraw.Draw(card)
    small = ImageFont.load_default(size=max(9, height // 32))
    draw.text((width / 2, height * 0.9), caption, font=small, fill=(200, 200, 200), anchor="mm")
    return card


def _label(height: int) -> tuple[Image.Image, Image.Image]:
    """The 'PREVIEW' badge (RGB and its alpha mask), about 1/24 of the frame height."""
    font = ImageFont.load_default(size=max(9, height // 24))
    left, top, right, bottom = font.getbbox(_LABEL)
    pad = max(2, (bottom - top) // 3)
    badge = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 150))
    ImageDraw.Draw(badge).text((pad - left, pad - top), _LABEL, font=font, fill=(255, 255, 255, 255))
    return badge.convert("RGB"), badge.getchannel("A")


# -- the renderer --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    width: int
    height: int
    frames: int
    first: Image.Image  # the picture at the start (card or fitted image)
    last: Image.Image | None  # the picture blended towards, if any
    motion: _Motion
    badge: tuple[Image.Image, Image.Image]

    def phase(self, i: int) -> float:
        if self.motion.loop:
            return i / self.frames  # frame `frames` would be frame 0 again
        return i / (self.frames - 1) if self.frames > 1 else 0.0

    def render(self, i: int) -> bytes:
        p = self.phase(i)
        pose = self.motion.pose(p)
        frame = _warp(self.first, pose)
        if self.last is not None:
            w = (1 - math.cos(2 * math.pi * p)) / 2 if self.motion.loop else p * p * (3 - 2 * p)
            if w > 0:
                frame = Image.blend(frame, _warp(self.last, pose), w)
        if frame is self.first or frame is self.last:
            frame = frame.copy()  # never draw the badge onto the shared source
        margin = max(4, self.height // 40)
        frame.paste(self.badge[0], (margin, margin), self.badge[1])
        return frame.tobytes()


def _validate(width: int, height: int, fps: int, duration_s: float) -> int:
    for name, value in (("width", width), ("height", height)):
        if not 16 <= value <= MAX_SIDE or value % 2:
            raise InvalidRequest(f"{name} must be an even number of pixels from 16 to {MAX_SIDE} (got {value}).",
                                 param=name, hint="H.264 yuv420p needs even sizes, e.g. 1280x720.")
    if not 1 <= fps <= 120:
        raise InvalidRequest(f"fps must be 1..120 (got {fps}).", param="fps")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise InvalidRequest(f"duration_s must be above 0 and at most {MAX_DURATION_S:g} s (got {duration_s}).",
                             param="duration_s")
    return max(1, round(duration_s * fps))


def _plan(width: int, height: int, frames: int, fps: int, seed: int, prompt: str,
          first_frame: Path | None, last_frame: Path | None, loop: bool) -> _Plan:
    rng = random.Random(seed)  # one stream, consumed in a fixed order: same seed, same clip
    caption = f"seed {seed} · {frames / fps:.1f} s"
    card = _title_card(prompt, width, height, rng, caption)
    first = _load_fitted(first_frame, width, height, "first_frame") if first_frame else card
    last = _load_fitted(last_frame, width, height, "last_frame") if last_frame else None
    motion = _Motion(
        zoom=_ZOOM_IMAGE if first_frame else _ZOOM_CARD,
        pan_x=rng.uniform(-0.8, 0.8), pan_y=rng.uniform(-0.8, 0.8),
        phase=rng.uniform(0, 2 * math.pi), loop=loop, there_and_back=last is not None,
    )
    return _Plan(width, height, frames, first, last, motion, _label(height))


async def _frames(plan: _Plan) -> AsyncIterator[bytes]:
    # Rendering releases the GIL inside Pillow, so a worker thread keeps the event loop free.
    for i in range(plan.frames):
        yield await anyio.to_thread.run_sync(plan.render, i)


async def render_animatic(
    out: Path,
    *,
    width: int,
    height: int,
    fps: int,
    duration_s: float,
    seed: int,
    prompt: str,
    first_frame: Path | None = None,
    last_frame: Path | None = None,
    loop: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Render a labelled preview clip to `out` (H.264 yuv420p mp4 + silent AAC stereo 48 kHz).

    Exactly round(duration_s * fps) frames of width x height at `fps`; audio of the same length.
    Same arguments, same pixels. Raises `InvalidRequest` for impossible sizes or unreadable
    images; on cancellation ffmpeg is killed and no file is left at `out`.
    """
    frames = _validate(width, height, fps, duration_s)
    plan = await anyio.to_thread.run_sync(
        _plan, width, height, frames, fps, seed, prompt,
        Path(first_frame) if first_frame else None, Path(last_frame) if last_frame else None, loop,
    )
    seconds = frames / fps
    args = [
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
        "-f", "lavfi", "-t", f"{seconds:.6f}", "-i", "anullsrc=channel_layout=stereo:sample_rate=48000",
        "-map", "0:v", "-map", "1:a", "-vf", RGB_TO_BT709, *h264_args(fps),
        "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-ar", "48000",
    ]
    logger.info("rendering a %dx%d %d-frame preview animatic to %s", width, height, frames, out)
    # Budget: far above the measured ~1 s per second of 720p, so only a hung ffmpeg times out.
    timeout = 120 + 10 * seconds * (width * height) / (1280 * 720)
    return await run_ffmpeg(args, Path(out), duration_s=seconds, progress=progress, timeout_s=timeout,
                            stdin=_frames(plan))
