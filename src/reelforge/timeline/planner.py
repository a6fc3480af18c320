"""Pick the cheapest correct way to render an edit, and cut it into independent segments.

* `copy`: cuts only, whole clips, no overlays, and every input already has the output's exact
  H.264 signature and AAC audio: the concat demuxer joins them with `-c copy` (I/O speed).
* `audio_only`: the same, except the sound changes (a bed, muted or re-levelled clips, clips
  without audio, mismatched audio): video is stream-copied, audio is rebuilt and muxed.
* `segments`: everything else. Each clip body and each transition is its own short ffmpeg job
  (at most two inputs open), so memory stays flat however many clips there are; the encoded
  segments share one H.264 parameter set and are joined with `-c copy`. Segments are cached by
  content, so a re-edit re-renders only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from reelforge.timeline.edit import Edit, PlacedClip
from reelforge.timeline.presets import AUDIO_RATE, OutputFormat
from reelforge.timeline.sources import SourceMedia, StreamSignature
from reelforge.timeline.spec import PlanKind, TimelineSpec


#: The colour tags of every output: BT.709 primaries, transfer and matrix, limited range.
BT709_LIMITED = (1, 1, 1, 1)


@dataclass(frozen=True)
class SegmentInput:
    """A run of one clip's source frames (at the output rate) feeding a segment."""

    clip: PlacedClip
    src_frame: int
    frames: int
    square_pixels: bool = True
    #: Input YUV matrix for the scaler ("auto" = the stream's own tag).
    matrix: str = "auto"


@dataclass(frozen=True)
class VideoSegment:
    """One independently encoded piece of the output: a clip body or a transition."""

    kind: Literal["body", "transition"]
    inputs: tuple[SegmentInput, ...]
    start_frame: int
    frames: int
    xfade: str | None = None


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    total_frames: int
    segments: tuple[VideoSegment, ...] = ()


def _input(src: SourceMedia, clip: PlacedClip, first: int, frames: int) -> SegmentInput:
    return SegmentInput(clip, first, frames, src.signature.sar == 1, src.colour_matrix)


def cut_into_segments(edit: Edit, sources: list[SourceMedia]) -> list[VideoSegment]:
    """Bodies and transitions in output order; their frames add up to `edit.total_frames`."""
    segments: list[VideoSegment] = []
    for i, clip in enumerate(edit.clips):
        before, after = edit.overlap_before(i), edit.overlap_after(i)
        start = edit.clip_start(i)
        body = clip.frames - before - after
        if body > 0:
            inp = _input(sources[i], clip, clip.src_start + before, body)
            segments.append(VideoSegment("body", (inp,), start + before, body))
        if after > 0:
            nxt = edit.clips[i + 1]
            pair = (
                _input(sources[i], clip, clip.src_start + clip.frames - after, after),
                _input(sources[i + 1], nxt, nxt.src_start, after),
            )
            segments.append(VideoSegment("transition", pair, start + clip.frames - after, after, edit.cuts[i].xfade))
    return segments


def _matches_output(sig: StreamSignature, fmt: OutputFormat) -> bool:
    return (
        sig.codec == "h264"
        and (sig.width, sig.height) == (fmt.width, fmt.height)
        and sig.pix_fmt == "yuv420p"
        and sig.rate == Fraction(fmt.fps)
        and sig.sar == 1
        and sig.colour == BT709_LIMITED  # untagged or BT.601 sources are re-encoded to tag them
    )


def video_is_copyable(edit: Edit, spec: TimelineSpec, sources: list[SourceMedia], fmt: OutputFormat) -> bool:
    """True when joining the files' video streams as they are gives exactly the edit's picture."""
    if spec.titles or spec.subtitles_path or any(c.frames for c in edit.cuts):
        return False
    sigs = [s.signature for s in sources]
    if not all(_matches_output(sig, fmt) for sig in sigs):
        return False
    # Identical parameter sets (extradata), codec profile and time base, or the join is invalid.
    if len({(s.extradata_sha, s.profile, s.time_base) for s in sigs}) != 1:
        return False
    return all(c.src_start == 0 and c.frames == src.info.frames for c, src in zip(edit.clips, sources))


def audio_is_copyable(edit: Edit, spec: TimelineSpec, sources: list[SourceMedia]) -> bool:
    """True when every clip's own sound, unchanged, is exactly the output's sound."""
    if spec.audio_bed is not None or spec.loudness_lufs is not None:
        return False
    if any(c.mute or c.volume != 1.0 for c in edit.clips):
        return False
    return all(s.signature.audio == ("aac", AUDIO_RATE, 2) for s in sources)


def make_plan(edit: Edit, spec: TimelineSpec, sources: list[SourceMedia], fmt: OutputFormat) -> Plan:
    """The cheapest plan that renders `edit` exactly."""
    if video_is_copyable(edit, spec, sources, fmt):
        kind: PlanKind = "copy" if audio_is_copyable(edit, spec, sources) else "audio_only"
        return Plan(kind, edit.total_frames)
    return Plan("segments", edit.total_frames, tuple(cut_into_segments(edit, sources)))
