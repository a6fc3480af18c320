"""Seamless loops of any clip: loop-point search, tail-into-head crossfade, or ping-pong.

- search: find frames i < j where frame i looks like frame j (an MSE matrix of 64x36 grey
  thumbnails, relative to the clip's median frame step) and cut [i, j), so the seam jumps from
  j-1 to i, which is as good as the step from j-1 to j. Periodic clips loop with no blending.
- crossfade: the last N frames fade into the head (xfade + acrossfade); the output is N frames
  shorter and ends on an untouched head frame, so it flows into its own first frame.
- pingpong: forward then backward (no audio). `reverse` buffers every frame, so it is refused
  above a memory budget instead of swapping the machine to death.

`auto` searches first and cuts when the best loop is long enough and scores ≤ 2, otherwise it
crossfades. Whatever the strategy, the seam is measured on the written file.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Literal

import anyio
import numpy as np
from pydantic import BaseModel

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.ffmpeg import h264_args, output_rate, run_ffmpeg
from reelforge.media.probe import MediaInfo, probe
from reelforge.media.seam import SeamMetrics, join_seam, loop_seam, thumbnails

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float], Awaitable[None]]
Strategy = Literal["auto", "search", "crossfade", "pingpong"]

#: auto cuts at a found loop point only when it is at most this many median steps away.
SEARCH_MAX_RATIO = 2.0
DEFAULT_CROSSFADE_S = 1.0
MAX_REPEAT = 100
#: `reverse` keeps every decoded yuv420p frame in memory (W x H x 1.5 bytes each).
PINGPONG_BUDGET_BYTES = 768 * 1024 * 1024
#: The search holds an n x n distance matrix (8 bytes each): 2400 frames is 46 MB.
MAX_SEARCH_FRAMES = 2400
_EPS = 1e-3
#: H.264 4:2:0 needs even sizes: an odd-sized source (853x479) loses its last column/row.
EVEN_CROP = "crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0"
#: A written loop is visibly seamed above this seam ratio, or with more than this share of
#: ghosted (double-exposed) frames.
SEAMLESS_MAX_RATIO = 2.0
GHOSTED_MAX_SHARE = 0.05
#: Among loops within this factor of the best score, the longest wins.
_TIE = 1.05


class LoopResult(BaseModel):
    """The written loop: what was done, and how visible its seam is (measured on the file)."""

    path: str
    strategy: Literal["search", "crossfade", "pingpong"]
    frames: int  # frames in the written file (all repetitions)
    duration_s: float
    repeat: int
    period_frames: int  # frames in one loop
    seam: SeamMetrics  # across the first repetition's loop point
    loop_start_frame: int | None = None  # search: source frames [start, end) are looped
    loop_end_frame: int | None = None
    search_ratio: float | None = None  # the search's best score (thumbnails), when it ran
    crossfade_frames: int | None = None
    has_audio: bool = False
    #: False when the written loop measures as visibly seamed (a jump or a double exposure).
    seamless: bool = True
    notes: list[str] = []


_thumbnails = thumbnails  # the loop search and the ghosting measure share one decode


def best_loop(thumbs: np.ndarray, min_len: int) -> tuple[float, int, int] | None:
    """(score, i, j) of the best loop [i, j) at least `min_len` frames long, or None.

    score = MSE(frame j, frame i) / median adjacent MSE: the seam (j-1 → i) looks like the real
    step (j-1 → j) when frame i looks like frame j. Near-ties go to the longer loop.
    """
    n = len(thumbs)
    if n < 3 or min_len > n - 1:
        return None
    sq = (thumbs.astype(np.float64) ** 2).sum(1)
    d = np.maximum(sq[:, None] + sq[None, :] - 2 * thumbs.astype(np.float64) @ thumbs.T.astype(np.float64), 0)
    d /= thumbs.shape[1]
    adj = float(np.median(np.diag(d, 1)))
    jj, ii = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")  # score[j, i]
    valid = jj - ii >= min_len
    score = np.where(valid, (d + _EPS) / (adj + _EPS), np.inf)
    best = float(score.min())
    near = np.argwhere(score <= best * _TIE + 1e-12)
    j, i = max(near.tolist(), key=lambda ji: (ji[0] - ji[1], -score[ji[0], ji[1]]))
    return float(score[j, i]), int(i), int(j)


class _Progress:
    """Maps each stage's own 0..1 onto a slice of the whole, never going backwards."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback, self.done = callback, 0.0

    def stage(self, lo: float, hi: float) -> ProgressCallback:
        async def report(fraction: float) -> None:
            await self.at(lo + (hi - lo) * fraction)
        return report

    async def at(self, value: float) -> None:
        if self.callback is not None and value > self.done:
            self.done = min(1.0, value)
            await self.callback(self.done)


def _audio_out() -> list[str]:
    return ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]


def _cut_args(src: Path, info: MediaInfo, start: int, end: int) -> list[str]:
    fps = info.fps
    v = f"[0:v:0]trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS,format=yuv420p,{EVEN_CROP}[v]"
    args = ["-i", str(src)]
    if info.has_audio:
        # Padded then cut, so a source whose audio ends early still yields the loop's length.
        a = (f"[0:a:0]atrim=start={start / fps:.6f}:end={end / fps:.6f},asetpts=PTS-STARTPTS,"
             f"apad,atrim=end={(end - start) / fps:.6f}[a]")
        return [*args, "-filter_complex", f"{v};{a}", "-map", "[v]", "-map", "[a]", *_audio_out()]
    return [*args, "-filter_complex", v, "-map", "[v]"]


def _crossfade_args(src: Path, info: MediaInfo, n: int, xf: int) -> list[str]:
    """n - xf frames: source [xf+1, n) whose last xf frames fade into the head, then frame xf.

    xfade never shows a pure second input inside its window, so the head gets one frame more
    than the fade: the output ends on the untouched source frame xf, and looping back to the
    output's first frame (source xf+1) is an original step of the clip.
    """
    fps = info.fps
    d, offset = xf / fps, (n - 2 * xf - 1) / fps
    v = (f"[0:v:0]format=yuv420p,settb=AVTB,split[va][vb];"
         f"[va]trim=start_frame={xf + 1},setpts=PTS-STARTPTS[body];"
         f"[vb]trim=end_frame={xf + 1},setpts=PTS-STARTPTS[head];"
         f"[body][head]xfade=transition=fade:duration={d:.6f}:offset={offset:.6f},{EVEN_CROP}[v]")
    args = ["-i", str(src)]
    if info.has_audio:
        # Each side is cut to its video's exact length first, so the audio matches the video.
        cut = (xf + 1) / fps
        a = (f"[0:a:0]aresample=48000,asplit[aa][ab];"
             f"[aa]atrim=start={cut:.6f}:end={n / fps:.6f},asetpts=PTS-STARTPTS,apad,"
             f"atrim=end={(n - xf - 1) / fps:.6f}[abody];"
             f"[ab]atrim=end={cut:.6f},asetpts=PTS-STARTPTS,apad,atrim=end={cut:.6f}[ahead];"
             f"[abody][ahead]acrossfade=d={d:.6f}[a]")
        return [*args, "-filter_complex", f"{v};{a}", "-map", "[v]", "-map", "[a]", *_audio_out()]
    return [*args, "-filter_complex", v, "-map", "[v]"]


def _pingpong_args(src: Path, n: int) -> list[str]:
    v = (f"[0:v:0]format=yuv420p,settb=AVTB,split[f][r];"
         f"[f]trim=end_frame={n},setpts=PTS-STARTPTS[fw];"
         f"[r]trim=start_frame=1:end_frame={n - 1},setpts=PTS-STARTPTS,reverse,setpts=PTS-STARTPTS[bw];"
         f"[fw][bw]concat=n=2:v=1:a=0,{EVEN_CROP}[v]")
    return ["-i", str(src), "-filter_complex", v, "-map", "[v]", "-an"]


def _crossfade_frames(n: int, fps: float, crossfade_s: float | None) -> int:
    if crossfade_s is None:
        # ~1 s, but never more than a third of the clip: the body must stay the larger part.
        return max(1, min(round(DEFAULT_CROSSFADE_S * fps), n // 3))
    xf, most = round(crossfade_s * fps), (n - 1) // 2
    if xf < 1 or xf > most:
        raise InvalidRequest(
            f"crossfade_s={crossfade_s} is {xf} frames; this {n}-frame clip allows 1..{most} "
            f"({1 / fps:.3f}..{most / fps:.2f} s).", param="crossfade_s",
            hint="Leave it out for about 1 s, or pick a value within that range.",
        )
    return xf


def _check_pingpong(info: MediaInfo) -> None:
    need = info.width * info.height * 1.5 * info.frames
    if need > PINGPONG_BUDGET_BYTES:
        max_frames = int(PINGPONG_BUDGET_BYTES / (info.width * info.height * 1.5))
        raise InvalidRequest(
            f"A ping-pong loop of this {info.width}x{info.height}, {info.frames}-frame clip would hold "
            f"{need / 2**20:.0f} MiB of frames in memory (limit {PINGPONG_BUDGET_BYTES / 2**20:.0f} MiB).",
            param="strategy",
            hint=f"Use strategy 'crossfade' or 'auto', or a clip of at most {max_frames} frames at this size.",
        )


async def _choose(
    src: Path, info: MediaInfo, strategy: Strategy, stages: _Progress
) -> tuple[dict, dict | None, np.ndarray | None]:
    """(the plan to render first, auto's fallback plan, the source's thumbnails).

    Plans are LoopResult fields (strategy, and the search's findings when it ran). The
    thumbnails also measure ghosting on the written loop; clips too long to search get none.
    """
    n = info.frames
    if n > MAX_SEARCH_FRAMES:
        if strategy == "search":
            raise InvalidRequest(
                f"{src.name} has {n} frames; the loop-point search handles at most {MAX_SEARCH_FRAMES}.",
                param="strategy", hint="Trim the clip first, or use strategy 'crossfade'.",
            )
        # Too long to search; a crossfade works at any length.
        return {"strategy": "crossfade" if strategy == "auto" else strategy}, None, None
    thumbs = await anyio.to_thread.run_sync(_thumbnails, src)
    if strategy not in ("auto", "search"):
        return {"strategy": strategy}, None, thumbs
    # auto wants a real loop: at least 1 s and half the clip, not a stutter of a few frames.
    min_len = min(n - 1, max(round(info.fps), (n + 1) // 2))
    found = await anyio.to_thread.run_sync(best_loop, thumbs, min_len)
    await stages.at(0.1)
    if found is None:
        raise MediaError(f"No loop of at least {min_len} frames could be searched in {src.name}.")
    score, i, j = found
    logger.info("loop search on %s: best [%d, %d) scores %.3f", src.name, i, j, score)
    cut = {"strategy": "search", "search_ratio": round(score, 4), "loop_start_frame": i, "loop_end_frame": j}
    fade = {"strategy": "crossfade", "search_ratio": round(score, 4)}
    if strategy == "search":
        return cut, None, thumbs
    # Thumbnails can miss fine detail: auto checks the written loop and then tries the other.
    return (cut, fade, thumbs) if score <= SEARCH_MAX_RATIO else (fade, cut, thumbs)


def _severity(seam: SeamMetrics, frames: int) -> float:
    """How visible the seam is; at most 1 looks seamless (a jump, or a double exposure)."""
    ghost_share = seam.ghosted_frames / max(1, frames)
    return max(seam.seam_ratio / SEAMLESS_MAX_RATIO, ghost_share / GHOSTED_MAX_SHARE)


def _seam_note(fields: dict, seam: SeamMetrics) -> str:
    problems = []
    if seam.seam_ratio > SEAMLESS_MAX_RATIO:
        problems.append(f"the jump from its last frame to its first is {seam.seam_ratio:.1f}x an ordinary frame "
                        f"step (up to {SEAMLESS_MAX_RATIO:g} looks seamless)")
    if seam.ghosted_frames / max(1, fields["frames"]) > GHOSTED_MAX_SHARE:
        problems.append(f"{seam.ghosted_frames} of {fields['frames']} frames show a double exposure "
                        "(the crossfade blends two different pictures)")
    return (f"This {fields['strategy']} loop has a visible seam: {' and '.join(problems)}. For a clean loop use a "
            "clip that comes back to its first picture, or strategy 'pingpong' (forward then backward, no sound).")


async def _write(src: Path, info: MediaInfo, plan: dict, out: Path, crossfade_s: float | None, repeat: int,
                 stages: _Progress, source: np.ndarray | None) -> tuple[dict, SeamMetrics]:
    """Render `plan` to `out` and measure it; returns (LoopResult fields, seam)."""
    fields = dict(plan)
    n = info.frames
    if plan["strategy"] == "search":
        args, period = _cut_args(src, info, plan["loop_start_frame"], plan["loop_end_frame"]), (
            plan["loop_end_frame"] - plan["loop_start_frame"])
    elif plan["strategy"] == "crossfade":
        xf = _crossfade_frames(n, info.fps, crossfade_s)
        args, period = _crossfade_args(src, info, n, xf), n - xf
        fields["crossfade_frames"] = xf
    else:
        _check_pingpong(info)
        args, period = _pingpong_args(src, n), 2 * n - 2
    has_audio = info.has_audio and plan["strategy"] != "pingpong"

    encode = [*args, *h264_args(output_rate(info.fps)), "-frames:v", str(period)]
    seconds = period / info.fps
    timeout = 120 + 20 * seconds * info.width * info.height / (1280 * 720)
    if repeat == 1:
        await run_ffmpeg(encode, out, duration_s=seconds, progress=stages.stage(0.1, 0.9), timeout_s=timeout)
    else:
        await _render_repeated(encode, out, repeat, seconds, timeout, stages, has_audio)
    written = await anyio.to_thread.run_sync(probe, out)
    if written.frames != period * repeat:
        out.unlink(missing_ok=True)
        raise MediaError(f"The loop came out with {written.frames} frames instead of {period * repeat}: "
                         f"{src.name} decodes to fewer frames than it declares (truncated?).")
    await stages.at(0.92)
    if repeat == 1:
        seam = await anyio.to_thread.run_sync(partial(loop_seam, out, source=source))
    else:  # the seam between the first and second repetition, inside the written file
        seam = await anyio.to_thread.run_sync(partial(join_seam, out, period, source=source))
    fields.update(frames=written.frames, duration_s=written.duration_s, period_frames=period, has_audio=has_audio)
    return fields, seam


async def make_loop(
    src: Path,
    out: Path,
    *,
    strategy: Strategy = "auto",
    crossfade_s: float | None = None,
    repeat: int = 1,
    progress: ProgressCallback | None = None,
) -> LoopResult:
    """Write a seamless loop of `src` to `out` (H.264 yuv420p mp4), repeated `repeat` times.

    The seam is measured on the written file. `auto` that finds its first choice visibly seamed
    (a jump, or a crossfade's double exposure) renders the other strategy and keeps the better;
    a loop that still shows its seam comes back with `seamless` False and a note saying why.
    Raises `InvalidRequest` for a bad strategy, crossfade length, repeat count, or a clip too
    short or too large for the strategy; `MediaError` when ffmpeg fails. No partial file is left
    at `out` on failure or cancellation.
    """
    src, out = Path(src), Path(out)
    if strategy not in ("auto", "search", "crossfade", "pingpong"):
        raise InvalidRequest(f"Unknown loop strategy {strategy!r}.", param="strategy",
                             hint="Use auto, search, crossfade or pingpong.")
    if not 1 <= repeat <= MAX_REPEAT:
        raise InvalidRequest(f"repeat must be 1..{MAX_REPEAT} (got {repeat}).", param="repeat")
    info = await anyio.to_thread.run_sync(probe, src)
    n = info.frames
    if n < 3:
        raise InvalidRequest(f"{src.name} has {n} frame(s); a loop needs at least 3.", param="source")
    if strategy in ("auto", "crossfade"):
        _crossfade_frames(n, info.fps, crossfade_s)  # refuse a bad crossfade_s before any work
    notes = []
    if info.width % 2 or info.height % 2:
        notes.append(f"{src.name} is {info.width}x{info.height}; the loop is {info.width // 2 * 2}x"
                     f"{info.height // 2 * 2} (H.264 needs even sizes, so the last odd column/row was cropped).")
    stages = _Progress(progress)
    plan, fallback, source = await _choose(src, info, strategy, stages)
    fields, seam = await _write(src, info, plan, out, crossfade_s, repeat, stages, source)
    if fallback is not None and _severity(seam, fields["frames"]) > 1:
        fields, seam = await _try_fallback(src, info, fallback, out, crossfade_s, repeat, stages, source,
                                           (fields, seam), notes)
    seamless = _severity(seam, fields["frames"]) <= 1
    if not seamless:
        notes.append(_seam_note(fields, seam))
    await stages.at(1.0)
    return LoopResult(path=str(out.absolute()), repeat=repeat, seam=seam, seamless=seamless, notes=notes, **fields)


async def _try_fallback(src: Path, info: MediaInfo, plan: dict, out: Path, crossfade_s: float | None, repeat: int,
                        stages: _Progress, source: np.ndarray | None, first: tuple[dict, SeamMetrics],
                        notes: list[str]) -> tuple[dict, SeamMetrics]:
    """Render auto's other strategy beside `out`; keep whichever loop shows its seam less."""
    fd, name = tempfile.mkstemp(prefix=".partial-alt-", suffix=".mp4", dir=out.parent)
    os.close(fd)
    alt = Path(name)
    try:
        fields, seam = await _write(src, info, plan, alt, crossfade_s, repeat, stages, source)
        before, after = _severity(first[1], first[0]["frames"]), _severity(seam, fields["frames"])
        logger.info("loop %s: %s scored %.2f, %s %.2f", src.name, first[0]["strategy"], before, plan["strategy"], after)
        if after >= before:
            return first
        os.replace(alt, out)
        notes.append(f"auto's first choice, a {first[0]['strategy']} loop, measured a visible seam on the written "
                     f"file, so the {plan['strategy']} loop was made and kept instead.")
        return fields, seam
    finally:
        alt.unlink(missing_ok=True)


async def _render_repeated(encode: list[str], out: Path, repeat: int, seconds: float, timeout: float,
                           stages: _Progress, has_audio: bool) -> None:
    """Encode one period beside `out`, then concatenate it `repeat` times into `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".partial-period-", suffix=".mp4", dir=out.parent)
    os.close(fd)
    period_file = Path(name)
    try:
        await run_ffmpeg(encode, period_file, duration_s=seconds, progress=stages.stage(0.1, 0.8),
                         timeout_s=timeout)
        await _concat_copies(period_file, out, repeat, seconds, has_audio, timeout, stages.stage(0.8, 0.9))
    finally:
        period_file.unlink(missing_ok=True)


async def repeat_video(src: Path, out: Path, repeat: int, *, progress: ProgressCallback | None = None) -> Path:
    """Write `src` played `repeat` times back to back (video stream-copied, exact length)."""
    info = await anyio.to_thread.run_sync(probe, src)
    seconds = info.frames / info.fps if info.fps else info.duration_s
    await _concat_copies(Path(src).absolute(), out, repeat, seconds, info.has_audio,
                         max(120.0, seconds * repeat * 4), progress)
    return out


async def _concat_copies(period_file: Path, out: Path, repeat: int, seconds: float, has_audio: bool,
                         timeout: float, progress: ProgressCallback | None) -> None:
    """Concatenate one file `repeat` times into `out`.

    Video is stream-copied through the concat demuxer with each entry's `duration` stated:
    `-stream_loop` would offset every repetition by the container length, which AAC priming
    makes ~21 ms longer than the video (a held frame at every seam). Audio is re-encoded and
    trimmed to the exact total (cheap).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".partial-list-", suffix=".ffconcat", dir=out.parent)
    os.close(fd)
    listing = Path(name)
    try:
        quoted = str(period_file).replace("'", "'\\''")  # ffconcat quoting
        entry = f"file '{quoted}'\nduration {seconds:.6f}\n"
        listing.write_text("ffconcat version 1.0\n" + entry * repeat)
        copy = ["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v", "-c:v", "copy"]
        if has_audio:
            copy += ["-map", "0:a", "-af", f"atrim=end={seconds * repeat:.6f}", *_audio_out()]
        copy += ["-movflags", "+faststart"]
        await run_ffmpeg(copy, out, duration_s=seconds * repeat, progress=progress, timeout_s=timeout)
    finally:
        listing.unlink(missing_ok=True)
