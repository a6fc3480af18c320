"""Seam metrics: does a cut (a loop point or a join) look like an ordinary frame step?

The measure is relative, so it works for any content: the mean squared error across the seam
divided by the median MSE of the adjacent-frame steps near it (within `k` = 12 frames), on luma
scaled to about 320 px wide. A ratio near 1 means the seam is indistinguishable from the motion
around it; a naive loop of a pan or zoom scores 40-300. PSNR across the seam is reported too,
in dB, because it is the number people know. Given the source's thumbnails, the metric also
counts ghosted frames: blends (a crossfade's double exposure) that match no source frame.

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


#: Grey thumbnails for frame matching (loop search, ghosting): coarse enough to be cheap.
THUMB_SIZE = (64, 36)
#: A frame that is further from every source frame than this many ordinary frame steps is a
#: blend that shows two pictures at once (a double exposure).
GHOST_RATIO = 1.0
#: Floor of the "ordinary step" (squared 8-bit levels, about 3 levels RMS): below it a
#: difference is coding noise, not a visible second picture.
_GHOST_FLOOR = 10.0


class SeamMetrics(BaseModel):
    """How visible a seam is, measured on the written file."""

    seam_ratio: float  # MSE across the seam / median adjacent MSE near it (≈1 is seamless)
    seam_psnr_db: float  # PSNR between the two frames that meet at the seam
    worst_step_ratio: float  # largest adjacent step / median step over the span (see loop_seam/join_seam)
    frames_checked: int  # frames decoded
    #: Frames that look like no frame of the source (a crossfade's double exposure); 0 when no
    #: source was given. A step metric cannot see these: a blend of two pans still moves smoothly.
    ghosted_frames: int = 0
    #: The most ghosted frame's distance to its nearest source frame, in ordinary frame steps.
    ghost_ratio: float = 0.0


def thumbnail(frame: av.VideoFrame) -> np.ndarray:
    """A frame as a flat float32 grey thumbnail (THUMB_SIZE)."""
    w, h = THUMB_SIZE
    return frame.to_ndarray(format="gray", width=w, height=h).astype(np.float32).ravel()


def thumbnails(path: Path | str) -> np.ndarray:
    """(n, 64*36) float32 grey thumbnails of every frame, in one decode."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return np.stack([thumbnail(frame) for frame in container.decode(stream)])


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MSE between every row of `a` and every row of `b` (thumbnails): shape (len(a), len(b))."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    sq_a, sq_b = (a64**2).sum(1), (b64**2).sum(1)
    return np.maximum(sq_a[:, None] + sq_b[None, :] - 2 * a64 @ b64.T, 0) / a.shape[1]


def ghosting(written: np.ndarray, source: np.ndarray) -> tuple[int, float]:
    """(frames of `written` that match no `source` frame, worst such distance in frame steps).

    Every frame of a cut loop is a source frame (up to coding noise); a crossfade's blended
    frames are not, and the further they are from any source frame the more plainly two
    pictures show. Distances are relative to the source's median adjacent step (and to the
    coding noise of the written file), so the same threshold works for any content.
    """
    if len(source) < 2 or len(written) == 0:
        return 0, 0.0
    nearest = distances(written, source).min(axis=1)
    step = float(np.median(np.mean(np.diff(source.astype(np.float64), axis=0) ** 2, axis=1)))
    noise = float(np.percentile(nearest, 25))
    ratio = nearest / max(step, 3 * noise, _GHOST_FLOOR)
    return int((ratio > GHOST_RATIO).sum()), round(float(ratio.max()), 4)


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
    path: Path, keep: set[int] | None, keep_last: int, thumbs: list[np.ndarray] | None = None
) -> tuple[list[float], dict[int, np.ndarray], list[np.ndarray]]:
    """Decode once: every adjacent-step MSE, the frames whose index is in `keep`, the last frames.

    Returns (steps, kept frames by index, the final `keep_last` frames in order); `steps[i]` is
    MSE(frame i, frame i+1). With `thumbs`, every frame's thumbnail is appended to it as well.
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
                if thumbs is not None:
                    thumbs.append(thumbnail(frame))
                if prev is not None:
                    steps.append(_mse(prev, cur))
                if keep is None or i in keep:
                    kept[i] = cur
                tail.append(cur)
                prev = cur
    except av.error.FFmpegError as exc:
        raise MediaError(f"{Path(path).name} could not be decoded for the seam check ({exc}).") from None
    return steps, kept, list(tail)


def _ghost_fields(thumbs: list[np.ndarray], source: np.ndarray | None) -> dict[str, float]:
    if source is None or not thumbs:
        return {}
    count, worst = ghosting(np.stack(thumbs), source)
    return {"ghosted_frames": count, "ghost_ratio": worst}


def loop_seam(path: Path | str, k: int = NEAR_FRAMES, source: np.ndarray | None = None) -> SeamMetrics:
    """Seam of `path` played as a loop: its last frame followed by its first.

    Baseline: the median of the adjacent steps within `k` frames of the loop point (the clip's
    last k and first k steps). `worst_step_ratio` is the largest step anywhere in the loop, the
    seam included, over the median step of the whole loop: it catches a blend that stutters.
    `source` (the thumbnails of the clip the loop was made from) adds the ghosting measure.
    """
    thumbs: list[np.ndarray] | None = [] if source is not None else None
    steps, kept, tail = _scan(Path(path), {0}, 1, thumbs)
    n = len(steps) + 1
    if n < 3:
        raise MediaError(f"{Path(path).name} has {n} frame(s); a loop needs at least 3 to measure its seam.")
    near = steps[: k - 1] + steps[max(0, len(steps) - (k - 1)):]
    baseline = float(np.median(near))
    seam = _mse(tail[-1], kept[0])
    every = [*steps, seam]
    worst, typical = max(every), float(np.median(every))
    metrics = SeamMetrics(seam_ratio=_ratio(seam, baseline), seam_psnr_db=round(_psnr(seam), 3),
                          worst_step_ratio=_ratio(worst, typical), frames_checked=n,
                          **_ghost_fields(thumbs or [], source))
    logger.debug("loop seam of %s: %s", Path(path).name, metrics)
    return metrics


def join_seam(
    path: Path | str, at_frame: int, k: int = NEAR_FRAMES, ramp_frames: int = 24, source: np.ndarray | None = None
) -> SeamMetrics:
    """Seam across an internal cut: between frames `at_frame - 1` and `at_frame`.

    Baseline: the median of the other adjacent steps within `k` frames on either side.
    `worst_step_ratio` is the largest step over the median step of the span from `k` frames
    before the cut to `ramp_frames` after it (where a colour ramp runs). `source` adds the
    ghosting measure, as in `loop_seam`.
    """
    if at_frame < 1:
        raise InvalidRequest(f"at_frame must be at least 1 (got {at_frame}).", param="at_frame")
    thumbs: list[np.ndarray] | None = [] if source is not None else None
    steps, _, _ = _scan(Path(path), set(), 1, thumbs)
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
                          worst_step_ratio=_ratio(max(window), float(np.median(window))), frames_checked=n,
                          **_ghost_fields(thumbs or [], source))
    logger.debug("join seam of %s at %d: %s", Path(path).name, at_frame, metrics)
    return metrics
