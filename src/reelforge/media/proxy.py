"""A small playable rendition of a finished video, for players that receive media inline.

An MCP App cannot open `file://` paths; its player gets the clip as a base64 resource through the
host, so the full file (often tens of MB) is far too big. The proxy is at most 480 lines high,
H.264 + AAC with `+faststart`, bitrate-capped, at the source's frame rate so its duration matches
the original. It is made on first request and cached beside the output (`NAME.proxy.mp4`); a source
newer than its proxy is rendered again.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from reelforge.errors import MediaError
from reelforge.media.ffmpeg import h264_args, output_rate, run_ffmpeg

#: Lines of the proxy picture (a smaller source keeps its own size).
PROXY_MAX_HEIGHT = 480
#: A proxy bigger than this is refused rather than pushed through a host bridge as base64.
PROXY_MAX_BYTES = 24 * 1024 * 1024
_TIMEOUT_S = 300.0

# One render per output at a time: two viewers opening the same job share the first render.
_locks: dict[Path, anyio.Lock] = {}


def proxy_path(video: Path) -> Path:
    return video.with_name(f"{video.stem}.proxy.mp4")


def _fresh(proxy: Path, video: Path) -> bool:
    return proxy.exists() and proxy.stat().st_mtime >= video.stat().st_mtime


async def ensure_proxy(video: Path | str, *, fps: float, duration_s: float) -> Path:
    """The cached proxy of `video`, rendered now if missing or stale.

    `fps` and `duration_s` are the probed source's (from the job's output), so the proxy keeps the
    frame rate and the progress fractions are right.
    """
    video = Path(video).absolute()
    if not video.is_file():
        raise MediaError(f"The finished video {video.name} is no longer on disk.")
    proxy = proxy_path(video)
    lock = _locks.setdefault(proxy, anyio.Lock())
    async with lock:
        if not _fresh(proxy, video):
            await _render(video, proxy, fps, duration_s)
    size = proxy.stat().st_size
    if size > PROXY_MAX_BYTES:
        raise MediaError(f"The preview of {video.name} is {size / 1e6:.1f} MB, above the "
                         f"{PROXY_MAX_BYTES / 1e6:.0f} MB an inline player takes; open the file itself.")
    return proxy


async def _render(video: Path, proxy: Path, fps: float, duration_s: float) -> None:
    scale = f"scale=-2:'min({PROXY_MAX_HEIGHT},ih)':flags=bicubic,format=yuv420p"
    args = [
        "-i", str(video), "-map", "0:v:0", "-map", "0:a:0?", "-vf", scale,
        *h264_args(output_rate(fps), crf=28, preset="veryfast"), "-maxrate", "1200k", "-bufsize", "2400k",
        "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-f", "mp4",
    ]
    await run_ffmpeg(args, proxy, duration_s=duration_s, timeout_s=_TIMEOUT_S)
