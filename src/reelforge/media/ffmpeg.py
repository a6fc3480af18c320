"""The one way reelforge runs the bundled ffmpeg binary.

`run_ffmpeg` handles everything a render needs to be safe inside the MCP server's event loop:
argv logging, `-progress pipe:1` parsing into monotonic fractions, a timeout, killing the whole
process group on timeout or cancellation, writing to a `.partial-` temp file beside the
destination and renaming it only on success, and treating an empty output as failure (ffmpeg
can exit 0 having written nothing). `h264_args` is the encoder flag set every render shares, so
segments made by different calls can be stream-copied together.
"""

from __future__ import annotations

import collections
import logging
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from fractions import Fraction
from pathlib import Path

import anyio
from anyio.abc import Process

from reelforge.errors import MediaError

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float], Awaitable[None]]

#: Flags the runner always adds right after the binary.
_RUNNER_FLAGS = ["-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", "-loglevel", "error"]
_STDERR_TAIL_LINES = 40

#: Writes BT.709 primaries, transfer, matrix and limited range into the H.264 SPS itself. The
#: bundled ffmpeg takes an encode's colour tags from its frames and ignores `-color_primaries`
#: and friends when the frames say "unspecified" (raw pipes, most generator downloads): such
#: outputs read "unknown" primaries and transfer. Compose tags its frames with `setparams`; this
#: bitstream filter makes every other encode (loop, join, preview) equally complete.
BT709_SPS_BSF = [
    "-bsf:v", "h264_metadata=colour_primaries=1:transfer_characteristics=1:matrix_coefficients=1:video_full_range_flag=0",
]

#: Filter chain that converts RGB input (raw frames, PNG, JPEG) to BT.709 limited-range yuv420p.
#: swscale defaults to the BT.601 matrix, which would not match the BT.709 tags of `h264_args`.
RGB_TO_BT709 = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary (honours the IMAGEIO_FFMPEG_EXE override)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def h264_args(fps: int | Fraction, *, crf: int = 20, preset: str = "veryfast", keyint: int | None = None) -> list[str]:
    """Encoder flags shared by every H.264 render: libx264, yuv420p, full BT.709 tags, +faststart.

    `keyint` fixes the GOP length (and disables scene-cut keyframes) so that segments encoded by
    separate calls have identical parameters and can be concatenated with `-c copy`.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    args = [
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", "-r", str(fps),
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
    ]
    if keyint is not None:
        args += ["-x264-params", f"keyint={keyint}:min-keyint=1:scenecut=0"]
    return [*args, *BT709_SPS_BSF, "-movflags", "+faststart"]


def output_rate(fps: float) -> int | Fraction:
    """The `-r` value for a probed rate: an integer (24, 30) or a rational like 30000/1001."""
    if abs(fps - round(fps)) < 1e-3:
        return int(round(fps))
    return Fraction(fps).limit_denominator(1001)


class _ProgressParser:
    """Turns `-progress pipe:1` key=value lines into monotonic fractions of `duration_s`."""

    def __init__(self, duration_s: float | None) -> None:
        self.duration_s = duration_s if duration_s and duration_s > 0 else None
        self.best = 0.0
        self._out_time_us: str = ""

    def feed(self, line: str) -> float | None:
        """Consume one line; return a fraction to report at the end of each block, else None."""
        key, _, value = line.strip().partition("=")
        if key == "out_time_us":
            self._out_time_us = value
            return None
        if key != "progress":
            return None
        if value == "end":
            self.best = 1.0
        elif self.duration_s is not None and self._out_time_us.lstrip("-").isdigit():
            # out_time_us can be N/A or jump back near the end: never report a step backwards.
            fraction = int(self._out_time_us) / 1e6 / self.duration_s
            self.best = max(self.best, min(fraction, 0.999))
        else:
            return None
        return self.best


async def _pump_progress(proc: Process, parser: _ProgressParser, progress: ProgressCallback | None) -> None:
    assert proc.stdout is not None
    pending = b""
    last_reported = -1.0
    async for chunk in proc.stdout:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            fraction = parser.feed(raw.decode(errors="replace"))
            if fraction is not None and progress is not None and fraction > last_reported:
                last_reported = fraction
                await progress(fraction)


async def _pump_stderr(proc: Process, tail: collections.deque[str]) -> None:
    assert proc.stderr is not None
    pending = b""
    async for chunk in proc.stderr:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        tail.extend(line.decode(errors="replace").rstrip() for line in lines if line.strip())
    if pending.strip():
        tail.append(pending.decode(errors="replace").rstrip())


async def _feed_stdin(proc: Process, chunks: AsyncIterable[bytes]) -> None:
    """Write `chunks` to ffmpeg's stdin, then close it so ffmpeg sees end of input."""
    assert proc.stdin is not None
    try:
        async for chunk in chunks:
            await proc.stdin.send(chunk)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        # ffmpeg exited before reading everything (bad arguments, a full disk): its exit code
        # and stderr tail explain why, so stop feeding instead of raising a pipe error here.
        logger.debug("ffmpeg closed its stdin early")
        return
    finally:
        # Close an async generator now (it may hold an open decoder), not whenever it is
        # garbage-collected; shielded because this also runs while being cancelled.
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()
    await proc.stdin.aclose()


async def _kill_group(proc: Process) -> None:
    """Kill ffmpeg and anything it spawned, then reap it (shielded: runs during cancellation)."""
    with anyio.CancelScope(shield=True):
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        await proc.wait()
        await proc.aclose()


def _make_temp(out_path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=out_path.suffix, dir=out_path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are ordinary user files
    return Path(tmp)


async def run_ffmpeg(
    args: Sequence[str],
    out_path: Path,
    *,
    duration_s: float | None = None,
    progress: ProgressCallback | None = None,
    timeout_s: float | None = None,
    stdin: AsyncIterable[bytes] | None = None,
) -> Path:
    """Run ffmpeg writing `out_path` atomically; return `out_path`.

    `args` is everything between the binary and the output file (inputs, filters, codecs). The
    output format follows `out_path`'s suffix (pass `-f` in `args` otherwise). `progress` gets
    fractions 0..1 of `duration_s` (the expected output length), never decreasing, ending at 1.0.
    On failure, an empty output or a timeout this raises `MediaError` with ffmpeg's stderr tail;
    on cancellation the cancellation propagates. Either way the process group is killed and no
    partial file is left behind.

    `stdin` feeds ffmpeg's standard input (for `-i pipe:0`, e.g. raw frames rendered in Python);
    it is consumed concurrently with ffmpeg's output, and closed when exhausted.
    """
    out_path = Path(out_path).absolute()
    if not out_path.parent.is_dir():
        raise MediaError(f"Output folder {out_path.parent} does not exist.")
    tmp = _make_temp(out_path)
    argv = [ffmpeg_exe(), *_RUNNER_FLAGS, *map(str, args), str(tmp)]
    logger.debug("ffmpeg argv: %s", shlex.join(argv))
    tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
    parser = _ProgressParser(duration_s)
    try:
        try:
            proc = await anyio.open_process(
                argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, start_new_session=True
            )
        except OSError as exc:
            raise MediaError(f"Could not start ffmpeg ({argv[0]}): {exc.strerror}.") from None
        try:
            with anyio.fail_after(timeout_s):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_pump_progress, proc, parser, progress)
                    tg.start_soon(_pump_stderr, proc, tail)
                    if stdin is not None:
                        tg.start_soon(_feed_stdin, proc, stdin)
                rc = await proc.wait()
        except TimeoutError:
            await _kill_group(proc)
            raise MediaError(
                f"ffmpeg did not finish within {timeout_s:g} s while writing {out_path.name}; it was stopped.",
                hint="Use a shorter or smaller output, or allow a longer timeout.",
            ) from None
        except BaseException as exc:
            await _kill_group(proc)
            # A failure inside one pump (e.g. the stdin feed could not decode its source) arrives
            # wrapped in a task-group ExceptionGroup; callers should see the error itself.
            if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                raise exc.exceptions[0] from None
            raise
        await proc.aclose()
        _check_result(rc, tmp, out_path, tail)
        os.replace(tmp, out_path)
        if progress is not None and parser.best < 1.0:
            await progress(1.0)
        return out_path
    finally:
        tmp.unlink(missing_ok=True)


async def run_ffmpeg_report(
    args: Sequence[str], *, timeout_s: float | None = None, max_lines: int = 400
) -> list[str]:
    """Run ffmpeg for a measurement (no output file: `-f null -`) and return its last log lines.

    For filters that report on stderr when they finish (ebur128, volumedetect): `args` holds
    the inputs and filters; the log runs at `info` level so their summary is kept. Same
    guarantees as `run_ffmpeg`: a timeout raises `MediaError`, and the process group is killed
    on timeout or cancellation.
    """
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", *map(str, args)]
    argv += ["-f", "null", "-"]
    logger.debug("ffmpeg argv: %s", shlex.join(argv))
    tail: collections.deque[str] = collections.deque(maxlen=max_lines)
    try:
        proc = await anyio.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as exc:
        raise MediaError(f"Could not start ffmpeg ({argv[0]}): {exc.strerror}.") from None
    try:
        with anyio.fail_after(timeout_s):
            await _pump_stderr(proc, tail)
            rc = await proc.wait()
    except TimeoutError:
        await _kill_group(proc)
        raise MediaError(f"ffmpeg did not finish a measurement within {timeout_s:g} s; it was stopped.") from None
    except BaseException:
        await _kill_group(proc)
        raise
    await proc.aclose()
    if rc != 0:
        raise MediaError(f"ffmpeg failed (exit code {rc}) measuring: {' | '.join(list(tail)[-10:])[-1500:]}")
    return list(tail)


def _check_result(rc: int, tmp: Path, out_path: Path, tail: collections.deque[str]) -> None:
    stderr_tail = " | ".join(tail)[-1500:] or "(no error output)"
    if rc != 0:
        raise MediaError(f"ffmpeg failed (exit code {rc}) writing {out_path.name}: {stderr_tail}")
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise MediaError(
            f"ffmpeg exited successfully but wrote no data for {out_path.name} "
            f"(the selected range may be empty): {stderr_tail}"
        )
