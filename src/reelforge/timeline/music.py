"""Cut to the music: move each cut between clips onto the audio bed's beats or bars.

Runs after validation and before the OTIO model is built, and only rewrites clip trims
(`out_s`), so everything downstream (planner, segments, audio, the sidecar) renders the
snapped edit exactly as if the user had typed those trims.

All positions are whole output frames. Walking the clips left to right, the cut after clip i
(for a transition: its centre) moves to the latest beat at or before where it was planned,
trimming the clip's end; a clip is never made longer, so it never needs media it does not have.
The clip must keep room for the transitions on both its sides; when no beat fits inside that
range the planned cut is kept and reported as off the beat (a refusal at this point would throw
away inline generations already paid for). The last clip's end is not a cut and is left alone.
A transition of odd length D is centred half a frame after its beat (D // 2 frames before it).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from reelforge.timeline.beats import BeatGrid, detect_beats
from reelforge.timeline.otio_model import clip_frame_range, cut_frames
from reelforge.timeline.sources import AudioSource, SourceMedia
from reelforge.timeline.spec import BeatCut, TimelineSpec

#: Cuts listed one by one in the job's notes (all of them are in `beat_cuts`).
_NOTED_CUTS = 12


@dataclass
class MusicCuts:
    """The outcome of snapping: the detected grid, where each cut landed, and notes for the job."""

    grid: BeatGrid
    cuts: list[BeatCut] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def bed_marks(grid: BeatGrid, unit: str, bed_duration_s: float, loop: bool, until_s: float) -> list[float]:
    """Beat (or bar) times on the output timeline: the bed starts at 0 and repeats when looped."""
    marks = grid.marks(unit)
    out: list[float] = []
    k = 0
    while k == 0 or (loop and bed_duration_s > 0 and k * bed_duration_s <= until_s):
        out += [k * bed_duration_s + m for m in marks if k * bed_duration_s + m <= until_s]
        k += 1
    return out


def _nearest(marks: list[float], t: float) -> float:
    return min(marks, key=lambda m: abs(m - t)) if marks else float("nan")


def place_cuts(
    spec: TimelineSpec, available: list[int], fps: int, marks: list[float]
) -> tuple[TimelineSpec, list[BeatCut]]:
    """`spec` with each cut moved to the latest mark at or before it (see the module docstring)."""
    clips = list(spec.clips or [])
    overlaps = [cut_frames(c, fps) for c in clips[:-1]] + [0]
    mark_frames = sorted({round(m * fps) for m in marks})
    start, report = 0, []
    for i, clip in enumerate(clips[:-1]):
        first, end = clip_frame_range(clip, available[i], fps)
        length, d = end - first, overlaps[i]
        late = d - d // 2  # frames of the transition after its centre frame
        planned = start + length - late
        shortest = max(1, (overlaps[i - 1] if i else 0) + d)
        k = bisect_right(mark_frames, planned) - 1
        centre = mark_frames[k] if k >= 0 and mark_frames[k] - start + late >= shortest else None
        on_beat = centre is not None
        new_length = centre - start + late if centre is not None else length
        cut_frame = start + new_length - late
        cut_s = (cut_frame + (d % 2) / 2) / fps
        beat = _nearest(marks, cut_s)
        report.append(BeatCut(
            after_clip=i, planned_s=round((planned + (d % 2) / 2) / fps, 4), cut_s=round(cut_s, 4),
            beat_s=round(beat, 4), offset_ms=round((cut_s - beat) * 1000, 1),
            trimmed_s=round((length - new_length) / fps, 4), on_beat=on_beat,
        ))
        if new_length != length:
            clips[i] = clip.model_copy(update={"out_s": (first + new_length) / fps})
        start += new_length - d
    return spec.model_copy(update={"clips": clips}), report


def _notes(grid: BeatGrid, unit: str, cuts: list[BeatCut]) -> list[str]:
    on = [c for c in cuts if c.on_beat]
    worst = max((abs(c.offset_ms) for c in on), default=0.0)
    trimmed = sum(c.trimmed_s for c in cuts)
    notes = [
        f"cut to {unit}: the bed plays {grid.tempo_bpm:g} BPM (pulse clarity {grid.clarity:g}); "
        f"{len(on)} of {len(cuts)} cuts on the {unit[:-1]} (largest offset {worst:.1f} ms), clips trimmed "
        f"{trimmed:.2f} s in all."
    ]
    listed = ", ".join(
        f"{c.cut_s:.3f} s ({unit[:-1]} {c.beat_s:.3f} s, {c.offset_ms:+.1f} ms)" for c in cuts[:_NOTED_CUTS]
    )
    if listed:
        more = f" and {len(cuts) - _NOTED_CUTS} more (see beat_cuts)" if len(cuts) > _NOTED_CUTS else ""
        notes.append(f"cuts landed at {listed}{more}.")
    notes += [
        f"the cut after clips[{c.after_clip}] stays at {c.cut_s:.3f} s: no {unit[:-1]} falls inside the clip "
        f"(nearest {c.beat_s:.3f} s); use a longer clip, a shorter transition or cut_to 'beats'."
        for c in cuts if not c.on_beat
    ]
    return notes


def cut_to_music(
    spec: TimelineSpec, sources: list[SourceMedia], bed: AudioSource | None, fps: int, total_frames: int
) -> tuple[TimelineSpec, MusicCuts | None]:
    """Apply `audio_bed.cut_to` (blocking: decodes the bed); (spec, None) when it is not set."""
    bed_spec = spec.audio_bed
    if bed_spec is None or bed_spec.cut_to is None or bed is None or len(spec.clips or []) < 2:
        return spec, None  # one clip has no cut to place
    duration = total_frames / fps
    # Only what plays is analysed (a looped bed's first pass, or the part under the timeline),
    # but at least 12 s when the bed has them: a few seconds of noise can look periodic by chance.
    grid = detect_beats(bed.path, bed_spec.beats_per_bar, max_s=min(bed.duration_s, max(duration, 12.0)) + 1.0)
    marks = bed_marks(grid, bed_spec.cut_to, bed.duration_s, bed_spec.loop, duration)
    snapped, cuts = place_cuts(spec, [s.available_frames(fps) for s in sources], fps, marks)
    return snapped, MusicCuts(grid, cuts, _notes(grid, bed_spec.cut_to, cuts))
