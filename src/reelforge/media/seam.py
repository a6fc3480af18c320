"""Seam metrics: does a cut (a loop point or a join) look like an ordinary frame step?

The measure is relative, so it works for any content: the mean squared error across the seam
divided by the median MSE of the adjacent-frame steps near it (within `k` = 12 frames), on luma
scaled to about 320 px wide. A ratio near 1 means the seam is indistinguishable from the motion
around it; a naive loop of a pan or zoom scores 40-300. PSNR across the seam is reported too,
in dB, because it is the number people know.

Frames are decoded in one streaming pass and only the frames around the seam are kept, so
memory stays small for long clips.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from pathlib import Path

import av
import numpy as np
from pydantic import BaseModel

from reelforge.errors import InvalidRequest, MediaError

logger = logging.getLogger(__name__)

#: Adjacent steps within this many frames of the seam form the baseline.
NEAR_FRAMES = 12
#: Analysis width (luma): enough to see motion, cheap to decode and compare.
ANALYSIS_WIDTH = 320
#: Squared 8-bit levels added to both sides of a ratio, so a static clip with a clean seam
#: scores 1 instead of 0/0, while any visible jump on a static clip still scores high.
_EPS = 1e-3
#: PSNR reported for identical frames (JSON has no infinity).
_PSNR_CAP_DB = 100.0


class SeamMetrics(BaseModel):
    """How visible a seam is, measured on the written file."""

    seam_ratio: float  # MSE across the seam / median adjacent MSE near it (≈1 is seamless)
    seam_psnr_db: float  # PSNR between the two frames that meet at the seam
    worst_step_ratio: float  # largest adjacent step / median step over the span (see loop_seam/join_seam)
    frames_checked: int  # frames decoded


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2))


def _psnr(mse: float) -> float:
    return _PSNR_CAP_DB if mse <= 1e-10 else min(_PSNR_CAP_DB, 10.0 * math.log10(255.0**2 / mse))


def _ratio(mse: float, baseline: float) -> float:
    return round((mse + _EPS) / (baseline + _EPS), 4)


def _luma(frame: av.VideoFrame, width: int) -> np.ndarray:
    w = min(width, frame.width)
    h = max(2, int(round(frame.height * w / frame.width / 2)) * 2)
    return frame.to_ndarray(format="gray", width=w, height=h).astype(np.float32)


def _scan(
    path: Path, keep: set[int] | None, keep_last: int
) -> tuple[list[float], dict[int, np.ndarray], list[np.ndarray]]:
    """Decode once: every adjacent-step MSE, the frames whose index is in `keep`, the last frames.

    Returns (steps, kept frames by index, the final `keep_last` frames in order); `steps[i]` is
    MSE(frame i, frame i+1).
    """
    if not Path(path).is_file():
        raise InvalidRequest(f"No video file at {path}.", param="path")
    steps: list[float] = []
    kept: dict[int, np.ndarray] = {}
    tail: deque[np.ndarray] = deque(maxlen=max(1, keep_last))
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidRequest(f"{Path(path).name} has no video stream.", param="path")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            prev = None
            for i, frame in enumerate(container.decode(stream)):
                cur = _luma(frame, ANALYSIS_WIDTH)
                if prev is not None:
                    steps.append(_mse(prev, cur))
                if keep is None or i in keep:
                    kept[i] = cur
                tail.append(cur)
                prev = cur
    except av.error.FFmpegError as exc:
        raise MediaError(f"{Path(path).name} could not be decoded for the seam check ({exc}).") from None
    return steps, kept, list(tail)


def loop_seam(path: Path | str, k: int = NEAR_FRAMES) -> SeamMetrics:
    """Seam of `path` played as a loop: its last frame followed by its first.

    Baseline: the median of the adjacent steps within `k` frames of the loop point (the clip's
    last k and first k steps). `worst_step_ratio` is the largest step anywhere in the loop, the
    seam included, over the median step of the whole loop: it catches a blend that stutters.
    """
    steps, kept, tail = _scan(Path(path), {0}, 1)
    n = len(steps) + 1
    if n < 3:
        raise MediaError(f"{Path(path).name} has {n} frame(s); a loop needs at least 3 to measure its seam.")
    near = steps[: k - 1] + steps[max(0, len(steps) - (k - 1)):]
    baseline = float(np.median(near))
    seam = _mse(tail[-1], kept[0])
    every = [*steps, seam]
    worst, typical = max(every), float(np.median(every))
    metrics = SeamMetrics(seam_ratio=_ratio(seam, baseline), seam_psnr_db=round(_psnr(seam), 3),
                          worst_step_ratio=_ratio(worst, typical), frames_checked=n)
    logger.debug("loop seam of %s: %s", Path(path).name, metrics)
    return metrics


def join_seam(path: Path | str, at_frame: int, k: int = NEAR_FRAMES, ramp_frames: int = 24) -> SeamMetrics:
    """Seam across an internal cut: between frames `at_frame - 1` and `at_frame`.

    Baseline: the median of the other adjacent steps within `k` frames on either side.
    `worst_step_ratio` is the largest step over the median step of the span from `k` frames
    before the cut to `ramp_frames` after it (where a colour ramp runs).
    """
    if at_frame < 1:
        raise InvalidRequest(f"at_frame must be at least 1 (got {at_frame}).", param="at_frame")
    steps, _, _ = _scan(Path(path), set(), 1)
    n = len(steps) + 1
    if at_frame >= n:
        raise InvalidRequest(f"at_frame {at_frame} is past the end of {Path(path).name} ({n} frames).",
                             param="at_frame", hint=f"Use 1..{n - 1}.")
    cut = at_frame - 1  # steps[cut] crosses the seam
    near = [s for i, s in enumerate(steps) if abs(i - cut) < k and i != cut]
    baseline = float(np.median(near)) if near else 0.0
    seam = steps[cut]
    window = steps[max(0, cut - k): cut + max(k, ramp_frames) + 1]
    metrics = SeamMetrics(seam_ratio=_ratio(seam, baseline), seam_psnr_db=round(_psnr(seam), 3),
                          worst_step_ratio=_ratio(max(window), float(np.median(window))), frames_checked=n)
    logger.debug("join seam of %s at %d: %s", Path(path).name, at_frame, metrics)
    return metrics
