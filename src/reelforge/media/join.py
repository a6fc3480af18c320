"""Join a generated continuation onto the clip it continues, without a visible seam.

extend_video conditions a generator on the exact last frame of `first`, so the continuation
usually starts by repeating that frame (a one-frame freeze if joined naively), and often with a
small colour drift. The join:

1. conforms the continuation to `first` (size by cover-crop, frame rate, yuv420p, audio or
   synthesized silence);
2. drops its first frame when it repeats `first`'s last frame (luma MSE after removing the mean
   offset, robust to a small overlay such as the preview badge, under a small threshold: both
   went through an encoder);
3. measures the per-plane YUV mean offset between `first`'s last frame and the first kept frame
   and, above a threshold, ramps it out over about 1 s in numpy (measured: ffmpeg's `eq` ramp
   over-corrects);
4. re-encodes `first` + the kept frames in one ffmpeg pass (frames piped as raw yuv420p) and
   measures the seam across the join on the written file.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import av
import numpy as np
from pydantic import BaseModel

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.ffmpeg import h264_args, output_rate, run_ffmpeg
from reelforge.media.frames import decode_last
from reelforge.media.probe import MediaInfo, probe
from reelforge.media.seam import SeamMetrics, join_seam

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float], Awaitable[None]]
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, U, V (uint8)

#: A repeated frame differs from the original only by two encodes: luma MSE (levels²) below
#: this, or below this fraction of the continuation's own next step, counts as a repeat.
REPEAT_MSE = 5.0
REPEAT_STEP_FRACTION = 0.35
#: Ignore the most different 2 % of pixels in the repeat test (a small overlay, a badge).
_TRIM = 0.98
#: Mean offsets (8-bit levels) at or below this are invisible and left alone.
OFFSET_THRESHOLD = 1.0
RAMP_S = 1.0


class JoinResult(BaseModel):
    """The joined file and what was done at the join (all measured)."""

    path: str
    frames: int
    duration_s: float
    join_frame: int  # output index of the continuation's first kept frame (= frames of `first`)
    dropped_repeated_frame: bool
    repeat_mse: float  # robust luma MSE, first's last frame vs the continuation's first frame
    color_offset: list[float]  # Y, U, V means: first's last frame minus the first kept frame
    color_ramp_s: float  # 0 when no correction was applied
    conformed: list[str]  # what was changed to make the continuation match
    seam: SeamMetrics  # across the join, on the written file


def _conform(frame: av.VideoFrame, width: int, height: int) -> Planes:
    """yuv420p planes at width x height: scaled to cover, centre-cropped on even offsets."""
    fw, fh = frame.width, frame.height
    if (fw, fh) == (width, height):
        sw, sh = width, height
    else:
        scale = max(width / fw, height / fh)
        sw, sh = max(width, 2 * math.ceil(fw * scale / 2)), max(height, 2 * math.ceil(fh * scale / 2))
    flat = frame.reformat(width=sw, height=sh, format="yuv420p").to_ndarray().reshape(-1)
    y = flat[: sw * sh].reshape(sh, sw)
    u = flat[sw * sh: sw * sh * 5 // 4].reshape(sh // 2, sw // 2)
    v = flat[sw * sh * 5 // 4:].reshape(sh // 2, sw // 2)
    x0, y0 = ((sw - width) // 2) & ~1, ((sh - height) // 2) & ~1
    return (y[y0: y0 + height, x0: x0 + width],
            u[y0 // 2: (y0 + height) // 2, x0 // 2: (x0 + width) // 2],
            v[y0 // 2: (y0 + height) // 2, x0 // 2: (x0 + width) // 2])


def _robust_mse(a: np.ndarray, b: np.ndarray) -> float:
    """Luma MSE with the mean offset removed and the worst 2 % of pixels ignored."""
    d = a.astype(np.float32) - b.astype(np.float32)
    d2 = (d - d.mean()) ** 2
    cut = np.quantile(d2, _TRIM)
    return float(d2[d2 <= cut].mean())


def _head(path: Path, width: int, height: int, count: int) -> list[Planes]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        out = []
        for frame in container.decode(stream):
            out.append(_conform(frame, width, height))
            if len(out) == count:
                break
        return out


def _frames(path: Path, width: int, height: int, skip: int, offset: np.ndarray, ramp: int,
            src_fps: float, dst_fps: float) -> Iterator[bytes]:
    """The continuation as raw yuv420p: conformed, first `skip` frames dropped, colour ramped,
    resampled from `src_fps` to `dst_fps` by nearest earlier frame when they differ."""
    resample = abs(src_fps - dst_fps) > 1e-3 * dst_fps
    try:
        yield from _frames_inner(path, width, height, skip, offset, ramp, src_fps, dst_fps, resample)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path.name} could not be decoded to the end ({exc.__class__.__name__}); "
                         "the continuation file is damaged.") from None


def _frames_inner(path: Path, width: int, height: int, skip: int, offset: np.ndarray, ramp: int,
                  src_fps: float, dst_fps: float, resample: bool) -> Iterator[bytes]:
    out_index = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for j, frame in enumerate(container.decode(stream)):
            if j < skip:
                continue
            kept, planes = j - skip, None
            # Emit every output frame m whose source frame (nearest earlier in time) is this one;
            # at equal rates that is exactly one, m == kept.
            while (math.floor(out_index * src_fps / dst_fps + 1e-6) if resample else out_index) == kept:
                planes = planes or _conform(frame, width, height)
                if ramp and out_index < ramp:
                    yield _apply_ramp(planes, offset, ramp, out_index).tobytes()
                else:
                    yield b"".join(p.tobytes() for p in planes)
                out_index += 1


def _apply_ramp(planes: Planes, offset: np.ndarray, ramp: int, k: int) -> np.ndarray:
    """Planes + offset * (1 - k/ramp): full correction at the join, none after `ramp` frames."""
    weight = max(0.0, 1.0 - k / ramp)
    parts = [np.clip(p.astype(np.float32) + offset[i] * weight + 0.5, 0, 255).astype(np.uint8).ravel()
             for i, p in enumerate(planes)]
    return np.concatenate(parts)


async def _async_frames(gen: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Decoding and numpy work run in a worker thread; close() shuts the PyAV container.
    try:
        while (chunk := await anyio.to_thread.run_sync(next, gen, None)) is not None:
            yield chunk
    finally:
        gen.close()


def _audio_graph(a: MediaInfo, b: MediaInfo, a_s: float, b_s: float, skip_s: float) -> tuple[str, bool]:
    """Filter chains [a0] and [a1] with each side's exact video length; ("", False) if no audio."""
    if not (a.has_audio or b.has_audio):
        return "", False
    fmt = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
    silence = "anullsrc=r=48000:cl=stereo,atrim=end={:.6f}"
    a0 = (f"[0:a:0]{fmt},asetpts=PTS-STARTPTS,apad,atrim=end={a_s:.6f}[a0]" if a.has_audio
          else f"{silence.format(a_s)}[a0]")
    a1 = (f"[2:a:0]atrim=start={skip_s:.6f},asetpts=PTS-STARTPTS,{fmt},apad,atrim=end={b_s:.6f}[a1]"
          if b.has_audio else f"{silence.format(b_s)}[a1]")
    return f"{a0};{a1}", True


async def join_continuation(first: Path, continuation: Path, out: Path, *,
                            progress: ProgressCallback | None = None) -> JoinResult:
    """Write `first` followed by `continuation` (conformed, de-duplicated, colour-matched) to `out`.

    The frame count is exactly frames(first) + frames(continuation) - (1 if a repeated frame was
    dropped), for a continuation at `first`'s frame rate. Raises `InvalidRequest` for missing
    or unusable inputs and `MediaError` when decoding or ffmpeg fails; no partial file is left.
    """
    first, continuation, out = Path(first), Path(continuation), Path(out)
    a = await anyio.to_thread.run_sync(probe, first)
    b = await anyio.to_thread.run_sync(probe, continuation)
    width, height, fps = a.width, a.height, a.fps
    if width % 2 or height % 2:
        raise InvalidRequest(f"{first.name} is {width}x{height}; joining needs even sizes (H.264 yuv420p).",
                             param="source", hint="Re-encode the clip at an even size first.")
    conformed = []
    if (b.width, b.height) != (width, height):
        conformed.append(f"size {b.width}x{b.height} -> {width}x{height} (cover crop)")
    if abs(b.fps - fps) > 1e-3 * fps:
        conformed.append(f"fps {b.fps:g} -> {fps:g}")
    if a.has_audio and not b.has_audio:
        conformed.append("audio: silence added")

    last, _, _ = await anyio.to_thread.run_sync(decode_last, first, lambda f: _conform(f, width, height))
    head = await anyio.to_thread.run_sync(_head, continuation, width, height, 2)
    if not head:
        raise MediaError(f"No frame could be decoded from {continuation.name}.")
    repeat_mse = _robust_mse(last[0], head[0][0])
    next_step = _robust_mse(head[0][0], head[1][0]) if len(head) > 1 else 0.0
    drop = len(head) > 1 and repeat_mse <= max(REPEAT_MSE, REPEAT_STEP_FRACTION * next_step)
    kept_first = head[1] if drop else head[0]
    offset = np.array([float(last[i].astype(np.float32).mean() - kept_first[i].astype(np.float32).mean())
                       for i in range(3)])
    b_frames = b.frames - (1 if drop else 0)
    if conformed and any(c.startswith("fps") for c in conformed):
        b_frames = math.floor((b_frames - 1) * fps / b.fps + 1e-6) + 1
    ramp = min(b_frames, round(RAMP_S * fps)) if np.abs(offset).max() > OFFSET_THRESHOLD else 0
    logger.info("join %s + %s: repeat_mse=%.2f (next step %.2f) drop=%s offset=%s ramp=%d",
                first.name, continuation.name, repeat_mse, next_step, drop, offset.round(2), ramp)
    if progress is not None:
        await progress(0.05)

    a_s, b_s = a.frames / fps, b_frames / fps
    audio, has_audio = _audio_graph(a, b, a_s, b_s, (1 if drop else 0) / b.fps)
    rate = output_rate(fps)
    video = ("[0:v:0]format=yuv420p,setsar=1,settb=AVTB,setpts=PTS-STARTPTS[v0];"
             # Raw frames carry no tags; unstated, ffmpeg would take them as full range and
             # squeeze them (a visible brightness jump at the join). They are limited-range BT.709.
             "[1:v:0]setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709,"
             "setsar=1,settb=AVTB,setpts=PTS-STARTPTS[v1];")
    args = ["-i", str(first), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}",
            "-r", str(rate), "-i", "pipe:0"]
    if b.has_audio:
        args += ["-i", str(continuation)]
    if has_audio:
        graph = f"{video}{audio};[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]"
        maps = ["-map", "[v]", "-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
    else:
        graph = f"{video}[v0][v1]concat=n=2:v=1:a=0[v]"
        maps = ["-map", "[v]"]
    args += ["-filter_complex", graph, *maps, *h264_args(rate)]

    async def render_progress(fraction: float) -> None:
        if progress is not None:
            await progress(0.05 + 0.85 * fraction)

    frames = _frames(continuation, width, height, 1 if drop else 0, offset, ramp, b.fps, fps)
    timeout = 120 + 20 * (a_s + b_s) * width * height / (1280 * 720)
    await run_ffmpeg(args, out, duration_s=a_s + b_s, progress=render_progress, timeout_s=timeout,
                     stdin=_async_frames(frames))
    written = await anyio.to_thread.run_sync(probe, out)
    if written.frames != a.frames + b_frames:
        # The count is the contract extend_video reports; a continuation that decodes short
        # (truncated download) must not pass as a complete join.
        out.unlink(missing_ok=True)
        raise MediaError(f"The join came out with {written.frames} frames instead of {a.frames + b_frames}: "
                         f"{continuation.name} decodes to fewer frames than it declares (truncated?).",
                         hint="Download or generate the continuation again.")
    seam = await anyio.to_thread.run_sync(join_seam, out, a.frames)
    if progress is not None:
        await progress(1.0)
    return JoinResult(
        path=str(out.absolute()), frames=written.frames, duration_s=written.duration_s, join_frame=a.frames,
        dropped_repeated_frame=drop, repeat_mse=round(repeat_mse, 3),
        color_offset=[round(float(x), 3) for x in offset], color_ramp_s=round(ramp / fps, 4),
        conformed=conformed, seam=seam,
    )
