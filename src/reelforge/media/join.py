"""Join a generated continuation onto the clip it continues, without a visible seam.

extend_video conditions a generator on the exact last frame of `first`, so the continuation
usually starts by repeating that frame (a one-frame freeze if joined naively), and often with a
small colour drift. The join:

1. conforms the continuation to `first` (size by cover-crop in display space, frame rate,
   pixel format, audio or synthesized silence). `first` itself keeps every frame: an odd size
   loses its last pixel row/column (H.264 4:2:0 needs even sizes), a variable-rate clip is first
   made constant-rate at its average rate snapped to a standard one (the frames that yields are
   counted by ffmpeg first, never predicted), a 10-bit clip stays 10-bit;
2. drops its first frame when it repeats `first`'s last frame (luma MSE after removing the mean
   offset, robust to a small overlay such as the preview badge, under a small threshold: both
   went through an encoder);
3. measures the per-plane YUV mean offset between `first`'s last frame and the first kept frame
   and, above a threshold, ramps it out over about 1 s in numpy (measured: ffmpeg's `eq` ramp
   over-corrects);
4. re-encodes `first` + the kept frames in one ffmpeg pass (frames piped as raw yuv420p) and
   measures the seam across the join on the written file. The frames piped are counted, so a
   continuation that decodes short and an encoder that drops frames fail with different messages.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from fractions import Fraction
from pathlib import Path

import anyio
import av
import numpy as np
from av.video.format import VideoFormat
from pydantic import BaseModel

from reelforge.errors import MediaError
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
#: A variable-rate `first` is made constant at its average rate, snapped to one of these when
#: within 2 % (a phone's 29.6 fps average is 29.97 fps footage), else rounded to a whole rate.
_STANDARD_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                   Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60))


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


def _conform(frame: av.VideoFrame, width: int, height: int, sar: float = 1.0) -> Planes:
    """yuv420p planes at width x height: scaled to cover, centre-cropped on even offsets.

    `sar` is the target's pixel aspect: the cover is computed on the display picture, so a
    square-pixel continuation fills an anamorphic frame without being squeezed.
    """
    fw, fh = frame.width, frame.height
    if (fw, fh) == (width, height) and sar == 1.0:
        sw, sh = width, height
    else:
        scale = max(width * sar / fw, height / fh)
        sw, sh = max(width, 2 * math.ceil(fw * scale / sar / 2)), max(height, 2 * math.ceil(fh * scale / 2))
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


def _head(path: Path, width: int, height: int, sar: float, count: int) -> list[Planes]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        out = []
        for frame in container.decode(stream):
            out.append(_conform(frame, width, height, sar))
            if len(out) == count:
                break
        return out


def _source_index(m: int, src_fps: float, dst_fps: float, resample: bool) -> int:
    """The continuation frame on screen at output frame m (nearest earlier in time)."""
    return math.floor(m * src_fps / dst_fps + 1e-6) if resample else m


def resampled_count(kept: int, src_fps: float, dst_fps: float) -> int:
    """How many output frames `kept` continuation frames become: every output time before the
    end of the last kept frame (the same rule `_Frames` emits by)."""
    resample = _needs_resample(src_fps, dst_fps)
    if not resample or kept <= 0:
        return max(kept, 0)
    m = math.ceil(kept * dst_fps / src_fps)
    while m > 0 and _source_index(m - 1, src_fps, dst_fps, True) >= kept:
        m -= 1
    while _source_index(m, src_fps, dst_fps, True) < kept:
        m += 1
    return m


def _needs_resample(src_fps: float, dst_fps: float) -> bool:
    return abs(src_fps - dst_fps) > 1e-3 * dst_fps


class _Frames:
    """The continuation as raw yuv420p: conformed, first `skip` frames dropped, colour ramped,
    resampled from `src_fps` to `dst_fps` by nearest earlier frame. Counts what it decoded and
    what it emitted, so a short decode is told apart from an encoder problem."""

    def __init__(self, path: Path, width: int, height: int, sar: float, skip: int, offset: np.ndarray, ramp: int,
                 src_fps: float, dst_fps: float) -> None:
        self.path, self.width, self.height, self.sar = path, width, height, sar
        self.skip, self.offset, self.ramp, self.src_fps, self.dst_fps = skip, offset, ramp, src_fps, dst_fps
        self.decoded = 0
        self.emitted = 0

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner()
        except av.error.FFmpegError as exc:
            raise MediaError(f"{self.path.name} could not be decoded to the end ({exc.__class__.__name__}) after "
                             f"{self.decoded} frames; the continuation file is damaged.",
                             hint="Download or generate the continuation again.") from None

    def _inner(self) -> Iterator[bytes]:
        resample = _needs_resample(self.src_fps, self.dst_fps)
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for j, frame in enumerate(container.decode(stream)):
                self.decoded = j + 1
                if j < self.skip:
                    continue
                kept, planes = j - self.skip, None
                # Emit every output frame m whose source frame is this one; at equal rates that is
                # exactly one, m == kept.
                while _source_index(self.emitted, self.src_fps, self.dst_fps, resample) == kept:
                    planes = planes or _conform(frame, self.width, self.height, self.sar)
                    if self.ramp and self.emitted < self.ramp:
                        yield _apply_ramp(planes, self.offset, self.ramp, self.emitted).tobytes()
                    else:
                        yield b"".join(p.tobytes() for p in planes)
                    self.emitted += 1


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


def output_format(pix_fmt: str | None) -> str:
    """The 4:2:0 format the joined file is written in: 10-bit for a deeper source, else 8-bit."""
    try:
        bits = max(c.bits for c in VideoFormat(pix_fmt or "yuv420p").components)
    except (ValueError, TypeError):
        bits = 8
    return "yuv420p10le" if bits > 8 else "yuv420p"


def constant_rate(fps: float) -> int | Fraction:
    """The constant rate a (possibly variable-rate) clip is conformed to."""
    near = min(_STANDARD_RATES, key=lambda r: abs(float(r) - fps))
    rate = near if abs(float(near) - fps) <= 0.02 * fps else Fraction(max(1, round(fps)))
    return int(rate) if rate.denominator == 1 else rate


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 4:2:0 needs even sides: an odd side loses its last pixel row or column."""
    return max(2, width - width % 2), max(2, height - height % 2)


def _sar(info: MediaInfo) -> tuple[float, str]:
    num, _, den = (info.sample_aspect_ratio or "1:1").partition(":")
    try:
        n, d = int(num), int(den or 1)
    except ValueError:
        n, d = 1, 1
    if n <= 0 or d <= 0:
        n, d = 1, 1
    return n / d, f"{n}/{d}"


async def _constant_rate_count(first: Path, chain: str, folder: Path, timeout_s: float) -> int:
    """How many frames `chain` (which makes `first` constant-rate) yields, counted by ffmpeg itself:
    one decode writing a checksum line per frame, no encode and no large temporary file. The join
    runs the same chain on the same input, so it yields the same frames."""
    listing = folder / "first.crc"
    await run_ffmpeg(["-i", str(first), "-map", "0:v:0", "-vf", chain, "-f", "framecrc"], listing,
                     timeout_s=timeout_s)
    text = await anyio.to_thread.run_sync(listing.read_text)
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


async def join_continuation(first: Path, continuation: Path, out: Path, *,
                            progress: ProgressCallback | None = None) -> JoinResult:
    """Write `first` followed by `continuation` (conformed, de-duplicated, colour-matched) to `out`.

    The output has `first`'s rate (a variable rate made constant), size (even) and bit depth.
    Its frame count is exactly frames(first) + resampled_count(frames(continuation) - dropped);
    anything else raises `MediaError` naming which side came out short. Raises `InvalidRequest`
    for missing or unusable inputs and `MediaError` when decoding or ffmpeg fails; no partial
    file is left.
    """
    first, continuation, out = Path(first), Path(continuation), Path(out)
    with tempfile.TemporaryDirectory(prefix="reelforge-join-") as scratch:
        return await _join(first, continuation, out, Path(scratch), progress)


async def _join(first: Path, continuation: Path, out: Path, scratch: Path,
                progress: ProgressCallback | None) -> JoinResult:
    a = await anyio.to_thread.run_sync(probe, first)
    b = await anyio.to_thread.run_sync(probe, continuation)
    width, height = even_size(a.width, a.height)
    sar, sar_expr = _sar(a)
    pix_fmt = output_format(a.pix_fmt)
    conformed = []
    if (width, height) != (a.width, a.height):
        conformed.append(f"size {a.width}x{a.height} -> {width}x{height} (odd side cropped by one pixel)")
    pixels = max(1.0, a.width * a.height / (1280 * 720))
    if a.vfr:
        # Frames dropped or repeated by time, as any editor would: the length and timing are kept.
        rate = constant_rate(a.fps)
        retime = f"setpts=PTS-STARTPTS,fps={rate}"
        conformed.append(f"variable frame rate (average {a.fps:.3f}) -> constant {float(rate):g} fps")
        a_frames = await _constant_rate_count(first, retime, scratch, 120 + 5 * a.duration_s * pixels)
        fps = float(rate)
    else:
        a_frames, fps = a.frames, a.fps
        rate = output_rate(fps)
        retime = "null"
    if (b.width, b.height) != (width, height) or sar != 1.0:
        conformed.append(f"size {b.width}x{b.height} -> {width}x{height} (cover crop)")
    if _needs_resample(b.fps, fps):
        conformed.append(f"fps {b.fps:g} -> {fps:g}")
    if (a.pix_fmt or "yuv420p") != pix_fmt:
        conformed.append(f"source pixel format {a.pix_fmt} -> {pix_fmt}")
    if pix_fmt != "yuv420p":
        conformed.append(f"continuation pixel format {b.pix_fmt} -> {pix_fmt} (the source is 10-bit)")
    if a.has_audio and not b.has_audio:
        conformed.append("audio: silence added")

    last, _, _ = await anyio.to_thread.run_sync(decode_last, first, lambda f: _conform(f, width, height, sar))
    head = await anyio.to_thread.run_sync(_head, continuation, width, height, sar, 2)
    if not head:
        raise MediaError(f"No frame could be decoded from {continuation.name}.")
    repeat_mse = _robust_mse(last[0], head[0][0])
    next_step = _robust_mse(head[0][0], head[1][0]) if len(head) > 1 else 0.0
    drop = len(head) > 1 and repeat_mse <= max(REPEAT_MSE, REPEAT_STEP_FRACTION * next_step)
    kept_first = head[1] if drop else head[0]
    offset = np.array([float(last[i].astype(np.float32).mean() - kept_first[i].astype(np.float32).mean())
                       for i in range(3)])
    b_frames = resampled_count(b.frames - (1 if drop else 0), b.fps, fps)
    ramp = min(b_frames, round(RAMP_S * fps)) if np.abs(offset).max() > OFFSET_THRESHOLD else 0
    logger.info("join %s + %s: repeat_mse=%.2f (next step %.2f) drop=%s offset=%s ramp=%d",
                first.name, continuation.name, repeat_mse, next_step, drop, offset.round(2), ramp)
    if progress is not None:
        await progress(0.05)

    a_s, b_s = a_frames / fps, b_frames / fps
    # Every frame of `first` keeps its slot (retimed onto the exact output grid, so a CFR clip's
    # count survives the encoder's -r whatever its time base rounding).
    crop = f"crop={width}:{height}:0:0," if (width, height) != (a.width, a.height) else ""
    video = (f"[0:v:0]{retime},{crop}format={pix_fmt},setsar={sar_expr},settb=AVTB,setpts=N/({rate}*TB)[v0];"
             # Raw frames carry no tags; unstated, ffmpeg would take them as full range and
             # squeeze them (a visible brightness jump at the join). They are limited-range BT.709.
             "[1:v:0]setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709,"
             f"format={pix_fmt},setsar={sar_expr},settb=AVTB,setpts=PTS-STARTPTS[v1];")
    args = ["-i", str(first), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}",
            "-r", str(rate), "-i", "pipe:0"]
    if b.has_audio:
        args += ["-i", str(continuation)]
    audio, has_audio = _audio_graph(a, b, a_s, b_s, (1 if drop else 0) / b.fps)
    if has_audio:
        graph = f"{video}{audio};[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]"
        maps = ["-map", "[v]", "-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
    else:
        graph = f"{video}[v0][v1]concat=n=2:v=1:a=0[v]"
        maps = ["-map", "[v]"]
    encode = h264_args(rate)
    encode[encode.index("-pix_fmt") + 1] = pix_fmt  # libx264 picks High 10 for 10-bit input
    args += ["-filter_complex", graph, *maps, *encode]

    async def render_progress(fraction: float) -> None:
        if progress is not None:
            await progress(0.05 + 0.85 * fraction)

    frames = _Frames(continuation, width, height, sar, 1 if drop else 0, offset, ramp, b.fps, fps)
    timeout = 120 + 20 * (a_s + b_s) * width * height / (1280 * 720)
    await run_ffmpeg(args, out, duration_s=a_s + b_s, progress=render_progress, timeout_s=timeout,
                     stdin=_async_frames(iter(frames)))
    written = await anyio.to_thread.run_sync(probe, out)
    # The count is the contract extend_video reports: a short continuation (truncated download)
    # or frames lost in the encode must not pass as a complete join, and each is named as itself.
    if frames.decoded < b.frames:
        out.unlink(missing_ok=True)
        raise MediaError(f"{continuation.name} decodes to only {frames.decoded} of its {b.frames} frames: "
                         "the continuation file is cut short.",
                         hint="Download or generate the continuation again.")
    if written.frames != a_frames + frames.emitted:
        out.unlink(missing_ok=True)
        raise MediaError(f"The joined file has {written.frames} frames, but {a_frames} source frames and "
                         f"{frames.emitted} continuation frames were encoded at {fps:g} fps; ffmpeg dropped or "
                         "repeated frames.", hint="This is a reelforge bug; please report it with both clips.")
    seam = await anyio.to_thread.run_sync(join_seam, out, a_frames)
    if progress is not None:
        await progress(1.0)
    return JoinResult(
        path=str(out.absolute()), frames=written.frames, duration_s=written.duration_s, join_frame=a_frames,
        dropped_repeated_frame=drop, repeat_mse=round(repeat_mse, 3),
        color_offset=[round(float(x), 3) for x in offset], color_ramp_s=round(ramp / fps, 4),
        conformed=conformed, seam=seam,
    )
