"""Tiny synthetic media for tests, made with the bundled ffmpeg (never the network).

Every helper writes a real file that the code under test can decode, and returns its path.
Keep them tiny (the shared test machine has 2 cores): 160x90, 1-3 s is the default scale.

    from tests.media_utils import make_clip, make_image
    clip = make_clip(tmp_path / "a.mp4", 2.0)                   # testsrc2, 160x90, 24 fps, AAC
    pan = make_clip(tmp_path / "p.mp4", 2.0, pattern="pan")     # a steady horizontal pan
    mkv = make_clip(tmp_path / "a.mkv", 1.0, audio=False)       # container follows the suffix
    img = make_image(tmp_path / "red.png", (160, 90), "red")
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Literal

import imageio_ffmpeg
from PIL import Image

Pattern = Literal["testsrc2", "mandelbrot", "pan", "periodic", "still"]

#: Tags every clip BT.709, like reelforge's own encodes, so colour checks are meaningful.
_BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]


def _video_source(pattern: Pattern, seconds: float, size: tuple[int, int], fps: int) -> str:
    """A lavfi source graph for `pattern` at the exact output size and rate."""
    w, h = size
    if pattern == "testsrc2":
        return f"testsrc2=size={w}x{h}:rate={fps}"
    if pattern == "mandelbrot":
        # A continuous zoom: every frame differs from the last, and the end is far from the start.
        return f"mandelbrot=size={w}x{h}:rate={fps}:end_pts={seconds}:end_scale=0.05"
    if pattern == "pan":
        # A static fractal three frames wide, cropped by a window that slides steadily right.
        return (
            f"mandelbrot=size={3 * w}x{h}:rate={fps}:start_scale=3:end_scale=3,"
            f"crop={w}:{h}:x='2*{w}*t/{seconds}':y=0"
        )
    if pattern == "periodic":
        # A pan that wraps around every 1 s: a clip with true loop points one period apart.
        return (
            f"mandelbrot=size={2 * w}x{h}:rate={fps}:start_scale=3:end_scale=3,"
            f"crop={w}:{h}:x='{w}*mod(t\\,1)':y=0"
        )
    if pattern == "still":
        return f"color=c=0x3366aa:size={w}x{h}:rate={fps}"
    raise ValueError(f"unknown pattern {pattern!r}")


def _codec_args(suffix: str) -> tuple[list[str], list[str]]:
    """(video codec args, audio codec args) for a container suffix."""
    if suffix == ".webm":
        return ["-c:v", "libvpx-vp9", "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8"], ["-c:a", "libopus"]
    return ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]


def make_clip(
    path: Path | str,
    seconds: float = 1.0,
    size: tuple[int, int] = (160, 90),
    fps: int = 24,
    audio: bool = True,
    pattern: Pattern = "testsrc2",
    *,
    audio_seconds: float | None = None,
    extra_args: list[str] | None = None,
) -> Path:
    """Write a synthetic clip of exactly round(seconds * fps) frames and return its path.

    The container follows the suffix (.mp4/.mov/.mkv use H.264 + AAC, .webm VP9 + Opus).
    `audio_seconds` makes the audio track longer or shorter than the video (pitfall tests);
    `extra_args` go just before the output path (e.g. ["-bf", "3"]).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = round(seconds * fps)
    vcodec, acodec = _codec_args(path.suffix.lower())
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    # trim (not -frames:v) limits only the video, so a longer audio track survives.
    argv += ["-f", "lavfi", "-i", f"{_video_source(pattern, seconds, size, fps)},trim=end_frame={frames}"]
    if audio:
        a_len = seconds if audio_seconds is None else audio_seconds
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={a_len}"]
        argv += ["-map", "0:v", "-map", "1:a", *acodec, "-ac", "2"]
    argv += [*vcodec, *_BT709, "-r", str(fps)]
    argv += list(extra_args or [])
    argv.append(str(path))
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def make_image(path: Path | str, size: tuple[int, int] = (160, 90), color: str | tuple[int, int, int] = "red") -> Path:
    """Write a solid-colour still image (format from the suffix) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def make_gradient_image(path: Path | str, size: tuple[int, int] = (160, 90)) -> Path:
    """Write an image with detail everywhere (a colour gradient with a grid), so motion is visible."""
    import numpy as np

    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    grid = (((np.arange(w)[None, :] // 8) + (np.arange(h)[:, None] // 8)) % 2) * 60
    rgb = np.stack([x, y, 255 - x * 0.5], axis=-1) * 0.75 + grid[..., None]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
    return path
