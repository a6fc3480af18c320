"""The timeline's finished sound: render the mix, meet the loudness target, prove the ceiling.

The mix (`reelforge.timeline.audio`) always ends in a true-peak limiter. Here it is rendered,
then measured on the written file (EBU R128 meter): with a loudness target the level is
corrected and rendered again (a limiter lowers loudness a little when it works hard, so up to
two corrections), and if AAC's overshoot still took a peak over the ceiling the limiter is
re-run with that much more margin. Every render is an audio-only job (seconds) and cached.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.timeline.loudness import CODEC_MARGIN_DB, Loudness, measure

#: Render a mix with (gain_db, limiter margin dB); returns the written file.
RenderMix = Callable[[float, float], Awaitable[Path]]

#: A loudness target counts as met within this many LU.
_TARGET_TOLERANCE_LU = 0.5
_MAX_GAIN_DB = 40.0
#: EBU R128's absolute gate: the meter reports this (or -inf) for silence.
SILENCE_LUFS = -70.0 + 0.05


def is_silent(level: Loudness) -> bool:
    """True when the meter found nothing above its absolute gate (-70 LUFS): no loudness to set."""
    return not math.isfinite(level.integrated_lufs) or level.integrated_lufs <= SILENCE_LUFS


@dataclass
class Mastered:
    path: Path
    level: Loudness
    gain_db: float = 0.0
    notes: list[str] = field(default_factory=list)


async def master_mix(render: RenderMix, ceiling_dbtp: float, target_lufs: float | None) -> Mastered:
    """Render and measure the mix until it meets the ceiling (and the target, when given)."""
    gain, margin = 0.0, CODEC_MARGIN_DB
    path = await render(gain, margin)
    level = await measure(path)
    notes: list[str] = []
    if target_lufs is not None:
        if is_silent(level):
            notes.append(f"loudness_lufs {target_lufs:g} was not applied: the timeline is silent.")
        else:
            for _ in range(2):
                miss = target_lufs - level.integrated_lufs
                if abs(miss) <= _TARGET_TOLERANCE_LU:
                    break
                gain = max(-_MAX_GAIN_DB, min(_MAX_GAIN_DB, gain + miss))
                path = await render(gain, margin)
                level = await measure(path)
            if abs(target_lufs - level.integrated_lufs) > _TARGET_TOLERANCE_LU:
                notes.append(
                    f"Loudness reached {level.integrated_lufs:.1f} LUFS, not {target_lufs:g}: the "
                    f"{ceiling_dbtp:g} dBTP ceiling limits how loud this mix can get."
                )
    if level.true_peak_dbtp > ceiling_dbtp:
        margin += level.true_peak_dbtp - ceiling_dbtp + 0.3
        path = await render(gain, margin)
        level = await measure(path)
    if level.true_peak_dbtp > ceiling_dbtp:
        notes.append(f"The sound peaks at {level.true_peak_dbtp:.1f} dBTP, over the {ceiling_dbtp:g} dBTP ceiling.")
    return Mastered(path, level, round(gain, 2), notes)
