"""Validate a compose request against its real inputs before anything is rendered.

ffmpeg does not complain about most timeline mistakes: an overlapping pair of transitions on a
short clip renders "fine" with the wrong picture, a trim past the end yields a short file. So
every rule is checked here first, in whole output frames, and every error names the clip (or
title) index and the field to change, with the value that would be accepted.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.errors import InvalidRequest
from reelforge.timeline.otio_model import clip_frame_range, cut_frames
from reelforge.timeline.presets import OutputFormat
from reelforge.timeline.sources import FRAME_TOLERANCE, AudioSource, SourceMedia
from reelforge.timeline.spec import ClipSpec, TimelineSpec
from reelforge.timeline.titles import resolve_font

SUBTITLE_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")


def _s(frames: int, fps: int) -> str:
    return f"{frames / fps:.3f}".rstrip("0").rstrip(".") + " s"


def _used_length(i: int, clip: ClipSpec, src: SourceMedia, fps: int) -> int:
    """Frames clip i plays, after checking its trims against the real media."""
    available = src.available_frames(fps)
    if available == 0:
        _too_short(i, src, fps)
    first, end = clip_frame_range(clip, available, fps)
    if first >= available:
        raise InvalidRequest(
            f"clips[{i}].in_s = {clip.in_s} is at or past the end of the clip ({_s(available, fps)} long); "
            f"use a value below {_s(available, fps)}.",
            param=f"clips[{i}].in_s",
        )
    if end > available:
        raise InvalidRequest(
            f"clips[{i}].out_s = {clip.out_s} is past the end of the clip ({_s(available, fps)} long); "
            f"use at most {_s(available, fps)} or leave it out.",
            param=f"clips[{i}].out_s",
        )
    if end - first < 1:
        raise InvalidRequest(
            f"clips[{i}] plays less than one frame at {fps} fps (in_s {clip.in_s}, out_s {clip.out_s}).",
            param=f"clips[{i}].out_s",
        )
    return end - first


def _too_short(i: int, src: SourceMedia, fps: int) -> None:
    """Refuse a clip that lasts less than one output frame, saying so (not "use a value below 0 s")."""
    info = src.info
    count = f"{info.frames} frame" + ("s" if info.frames != 1 else "")
    raise InvalidRequest(
        f"clips[{i}] ({src.path.name}) is {count} long ({info.duration_s * 1000:.1f} ms at {info.fps:g} fps), "
        f"shorter than one frame of the {fps} fps output, so it cannot appear in the timeline.",
        param=f"clips[{i}].path",
        hint=f"Remove the clip, use a longer one, or set fps to at least {_min_fps(info.duration_s)} "
        "so the clip fills a whole output frame.",
    )


def _min_fps(duration_s: float) -> int:
    """The lowest output rate at which a clip this long fills one whole frame (at most 120)."""
    return next((f for f in range(1, 121) if duration_s * f + FRAME_TOLERANCE >= 1), 120)


def _check_transitions(clips: list[ClipSpec], lengths: list[int], overlaps: list[int], fps: int) -> None:
    """Each transition is at least a frame, and those on both sides of a clip fit inside it."""
    for i, clip in enumerate(clips[:-1]):
        t = clip.transition
        if t is not None and t.kind != "cut" and t.duration_s > 0 and overlaps[i] == 0:
            raise InvalidRequest(
                f"clips[{i}].transition.duration_s = {t.duration_s} is shorter than one frame at {fps} fps; "
                f"use at least {_s(1, fps)} or kind 'cut'.",
                param=f"clips[{i}].transition.duration_s",
            )
    for i, length in enumerate(lengths):
        before, after = (overlaps[i - 1] if i else 0), overlaps[i]
        if before + after > length:
            field = f"clips[{i}].transition.duration_s" if after else f"clips[{i - 1}].transition.duration_s"
            raise InvalidRequest(
                f"The transitions around clips[{i}] need {_s(before + after, fps)} of it, but it plays only "
                f"{_s(length, fps)}; shorten {field} (the transitions on both sides together must fit in the clip) "
                "or use a longer part of the clip.",
                param=field,
            )


def validate_clips(spec: TimelineSpec, sources: list[SourceMedia], fmt: OutputFormat) -> int:
    """Check trims and transitions of every clip; return the output length in frames."""
    clips = spec.clips or []
    fps = fmt.fps
    if len(clips) > fmt.preset.max_clips:
        raise InvalidRequest(
            f"{len(clips)} clips is more than the '{fmt.preset.name}' preset allows ({fmt.preset.max_clips}).",
            param="clips",
        )
    lengths = [_used_length(i, clip, src, fps) for i, (clip, src) in enumerate(zip(clips, sources))]
    overlaps = [cut_frames(c, fps) for c in clips[:-1]] + [0]
    _check_transitions(clips, lengths, overlaps, fps)
    total = sum(lengths) - sum(overlaps)
    if total / fps > fmt.preset.max_duration_s:
        raise InvalidRequest(
            f"The timeline is {_s(total, fps)} long; the '{fmt.preset.name}' preset allows at most "
            f"{fmt.preset.max_duration_s:g} s. Trim clips or split the video.",
            param="clips",
        )
    return total


def validate_overlays(spec: TimelineSpec, total_frames: int, fmt: OutputFormat, bed: AudioSource | None) -> None:
    """Check titles (times, fonts), the subtitle file and the audio bed."""
    duration = total_frames / fmt.fps
    for j, title in enumerate(spec.titles):
        if title.start_s >= duration:
            raise InvalidRequest(
                f"titles[{j}].start_s = {title.start_s} is at or after the end of the timeline ({duration:.3f} s).",
                param=f"titles[{j}].start_s",
            )
        resolve_font(title.font, param=f"titles[{j}].font")
    if spec.subtitles_path is not None:
        sub = Path(spec.subtitles_path)
        if sub.suffix.lower() not in SUBTITLE_SUFFIXES:
            raise InvalidRequest(
                f"subtitles_path must be one of {', '.join(SUBTITLE_SUFFIXES)}, got '{sub.suffix or sub.name}'.",
                param="subtitles_path",
            )
        if not sub.is_file():
            raise InvalidRequest(f"subtitles_path {sub} does not exist.", param="subtitles_path")
    if spec.audio_bed is not None:
        if bed is None:
            raise InvalidRequest("audio_bed.path was not inspected.", param="audio_bed.path")
        fades = spec.audio_bed.fade_in_s + spec.audio_bed.fade_out_s
        if fades > duration:
            raise InvalidRequest(
                f"audio_bed fades ({fades:g} s together) are longer than the timeline ({duration:.3f} s); "
                "shorten audio_bed.fade_in_s or audio_bed.fade_out_s.",
                param="audio_bed.fade_out_s",
            )


def validate(spec: TimelineSpec, sources: list[SourceMedia], fmt: OutputFormat, bed: AudioSource | None) -> int:
    """Validate the whole request; return the exact output length in frames."""
    total = validate_clips(spec, sources, fmt)
    validate_overlays(spec, total, fmt, bed)
    return total
