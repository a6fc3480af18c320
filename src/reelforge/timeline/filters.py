"""Pure builders of ffmpeg filter strings shared by every segment: escaping and conforming.

Conforming makes any input look like the output before it meets another clip: square pixels
(non-square sample aspect ratios are stretched out first), the output size by letterbox/pillarbox
or crop, BT.709 yuv420p, and a constant output frame rate (VFR and other rates are resampled by
the `fps` filter). Each input is then padded (by repeating its last frame) and trimmed to the
exact frame count the plan needs, so rounding in seeks or in a source's length can never make a
segment one frame short or long.
"""

from __future__ import annotations

from reelforge.timeline.presets import OutputFormat
from reelforge.timeline.spec import Fit

# Filter option values are parsed twice: once as `key=value:key=value` (level 1), once as
# part of the whole graph (level 2). Escape for both, in that order.
_LEVEL1 = str.maketrans({"\\": "\\\\", "'": "\\'", ":": "\\:"})
_LEVEL2 = str.maketrans({"\\": "\\\\", "'": "\\'", "[": "\\[", "]": "\\]", ",": "\\,", ";": "\\;"})


def escape_value(value: str) -> str:
    """Escape a filter option value (a path, an expression) for use inside -filter_complex."""
    return value.translate(_LEVEL1).translate(_LEVEL2)


def conform_chain(
    fmt: OutputFormat, fit: Fit, frames: int, *, square_pixels: bool = True, in_matrix: str = "auto"
) -> str:
    """Filters that turn one decoded input into exactly `frames` output-format frames.

    `square_pixels` is False for sources with a non-square sample aspect ratio: they are first
    scaled to their display aspect. `in_matrix` is the source's YUV matrix ("auto": its tag).
    The chain resamples to the output rate on the input's own clock (0 = the seek point),
    scales with the BT.709 matrix into yuv420p, and pads/trims to the exact length.
    """
    w, h = fmt.width, fmt.height
    # No setpts=PTS-STARTPTS before `fps`: after an input seek (-ss) the first decoded frame
    # keeps its sub-frame distance from the seek point, and `fps` anchored at 0 places every
    # frame at its true time (nearest output frame). Zeroing it first moved the picture up to a
    # source frame earlier than the sample-exact sound (the picture led by 13-33 ms).
    steps = [f"fps={fmt.fps}:start_time=0"]
    if not square_pixels:
        steps.append("scale=trunc(iw*sar/2)*2:ih,setsar=1")
    matrix = f"in_color_matrix={in_matrix}:out_color_matrix=bt709:out_range=tv:flags=bicubic"
    # format right after scale, so the BT.709 conversion happens in this scale and not in one
    # ffmpeg would insert later with default (BT.601) settings.
    if fit == "crop":
        steps += [f"scale={w}:{h}:force_original_aspect_ratio=increase:{matrix}", "format=yuv420p", f"crop={w}:{h}"]
    else:
        steps += [
            f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2:{matrix}",
            "format=yuv420p",
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black",
        ]
    # Tag every frame BT.709: x264 writes the frames' colour tags into the SPS, and segments
    # whose SPS differ (an untagged source next to a tagged one) cannot be joined by stream copy.
    steps += [
        "setsar=1", "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709",
        f"tpad=stop_mode=clone:stop={frames}", f"trim=end_frame={frames}",
    ]
    steps.append("setpts=PTS-STARTPTS")
    return ",".join(steps)


def overlay_chain(filters: list[str], start_frame: int) -> str:
    """Wrap overlay filters so they see timeline time: shift PTS to the segment's place and back.

    After the `fps` filter the time base is 1/fps, so adding `start_frame` to PTS is exact.
    """
    if not filters:
        return ""
    return ",".join([f"setpts=PTS+{start_frame}", *filters, "setpts=PTS-STARTPTS"])


def concat_list(paths: list[str]) -> str:
    """A concat-demuxer list file body (single quotes escaped the way the demuxer expects)."""
    return "".join("file '" + p.replace("'", "'\\''") + "'\n" for p in paths)
