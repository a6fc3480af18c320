"""Loudness and true peak of a written audio track (EBU R128 / ITU-R BS.1770), and the limiter.

Measured with ffmpeg's `ebur128` filter (K-weighted, gated integrated loudness; true peak from
4x oversampling), the same meter a broadcaster or a streaming service uses, on the file itself.

The limiter is a look-ahead peak limiter run at 4x the sample rate, so peaks that fall between
samples (what a DAC or a lossy decoder reconstructs, "true peak") are caught, not only sample
peaks. AAC encoding adds a little overshoot, hence the margin below the requested ceiling.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import MediaError
from reelforge.media.ffmpeg import run_ffmpeg_report
from reelforge.timeline.presets import AUDIO_RATE

#: Default true-peak ceiling of every mix (dBTP): the usual delivery spec (EBU R128 allows -1).
DEFAULT_CEILING_DBTP = -1.0
#: The limiter aims this far below the ceiling: AAC's overshoot on dense material is ~0.5 dB.
CODEC_MARGIN_DB = 0.8
_OVERSAMPLE = 4

_I = re.compile(r"^\s*I:\s+(-?[\d.]+|-inf)\s+LUFS")
_PEAK = re.compile(r"^\s*Peak:\s+(-?[\d.]+|-inf)\s+dBFS")


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS) and true peak (dBTP) of a track; -inf for silence."""

    integrated_lufs: float
    true_peak_dbtp: float


def limiter_chain(ceiling_dbtp: float, margin_db: float = CODEC_MARGIN_DB) -> str:
    """Filters that keep true peaks below `ceiling_dbtp` (48 kHz in, 48 kHz out, no delay).

    `level=0`: only peaks are reduced, the rest is left as it is (alimiter would otherwise
    normalise the whole track up to the limit). `latency=1` removes the look-ahead delay, so
    sound stays in sync with the picture.
    """
    limit = 10 ** ((ceiling_dbtp - margin_db) / 20)
    limit = min(1.0, max(0.0625, limit))
    return (
        f"aresample={AUDIO_RATE * _OVERSAMPLE},"
        f"alimiter=limit={limit:.6f}:level=0:latency=1:attack=2:release=60,"
        f"aresample={AUDIO_RATE}"
    )


def gain_chain(gain_db: float) -> str:
    """A static gain (dB), or nothing when it would not change anything."""
    return f"volume={gain_db:.2f}dB" if abs(gain_db) >= 0.05 else ""


def _value(pattern: re.Pattern[str], lines: list[str]) -> float | None:
    found = None
    for line in lines:
        m = pattern.match(line)
        if m:
            found = m.group(1)
    if found is None:
        return None
    return -math.inf if found == "-inf" else float(found)


async def measure(path: Path, *, timeout_s: float = 300.0) -> Loudness:
    """EBU R128 integrated loudness and true peak of the first audio stream of `path`."""
    lines = await run_ffmpeg_report(
        ["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=quiet"], timeout_s=timeout_s
    )
    integrated, peak = _value(_I, lines), _value(_PEAK, lines)
    if integrated is None or peak is None:
        raise MediaError(f"Could not read the loudness of {path.name}: {' | '.join(lines[-6:])[-600:]}")
    return Loudness(integrated, peak)
