"""The input and output models of the `compose_timeline` tool.

These pydantic models are the JSON schema a calling model reads, so every field says what it
accepts and what it does. A request names its clips by job id, local path or an inline
generation request; the core resolves all of them to local files first
(`TimelineSpec.with_clip_paths`) and only then hands the spec to `render_timeline`. A request
may instead name an uploaded OpenTimelineIO file (`otio_path`), which `load_otio_spec` turns
into the same clip list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TransitionKind = Literal["cut", "crossfade", "fade_black", "fade_white", "dissolve", "wipe", "slide", "zoom"]
Direction = Literal["left", "right", "up", "down"]
PresetName = Literal["draft", "standard", "high", "premium"]
Orientation = Literal["16:9", "9:16", "1:1"]
Fit = Literal["letterbox", "pillarbox", "crop"]
ExportFormat = Literal["webm", "gif"]
TitlePosition = Literal["top", "center", "bottom", "top_left", "top_right", "bottom_left", "bottom_right"]
PlanKind = Literal["copy", "audio_only", "segments"]
CutTo = Literal["beats", "bars"]

#: Transition kinds that move in a direction (the others ignore `direction`).
DIRECTIONAL_KINDS = ("wipe", "slide")

_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
#: Colour names accepted for titles; a small, predictable set rather than ffmpeg's whole list.
NAMED_COLOURS = (
    "white", "black", "red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan", "magenta", "gray", "grey",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransitionSpec(_Strict):
    """How one clip hands over to the next."""

    kind: TransitionKind = Field(
        default="cut",
        description="cut (no overlap); crossfade (editor-style cross dissolve); fade_black / fade_white (fade "
        "through black or white); dissolve (dithered pixel dissolve); wipe / slide (use `direction`); zoom.",
    )
    direction: Direction | None = Field(
        default=None, description="For wipe and slide only: which way the new clip moves in (default left)."
    )
    duration_s: float = Field(
        default=0.5, ge=0, le=10,
        description="Overlap length in seconds (ignored for cut). The two clips overlap by this much, so the "
        "timeline gets shorter by it. Must not exceed either neighbouring clip.",
    )

    @model_validator(mode="after")
    def _direction_only_where_it_means_something(self) -> TransitionSpec:
        if self.direction is not None and self.kind not in DIRECTIONAL_KINDS:
            raise ValueError(f"'direction' applies only to wipe and slide, not to {self.kind!r}")
        return self

    @property
    def overlaps(self) -> bool:
        """True when the two clips share frames (every kind but a cut, with a positive duration)."""
        return self.kind != "cut" and self.duration_s > 0


class ClipSpec(_Strict):
    """One clip on the timeline: exactly one of `job_id`, `path` or `generate`."""

    job_id: str | None = Field(default=None, description="A finished reelforge job whose video to use.")
    path: str | None = Field(default=None, description="A local video file (inside the allowed input folders).")
    generate: dict[str, object] | None = Field(
        default=None, description="An inline generate_video request; its result is used as this clip."
    )
    in_s: float = Field(default=0.0, ge=0, description="Start of the used part, seconds into the clip.")
    out_s: float | None = Field(
        default=None, gt=0, description="End of the used part, seconds into the clip (default: the clip's end)."
    )
    mute: bool = Field(default=False, description="Drop this clip's own sound (silence under it).")
    volume: float = Field(default=1.0, ge=0, le=4, description="Gain for this clip's own sound (1 = unchanged).")
    transition: TransitionSpec | None = Field(
        default=None, description="Transition into the NEXT clip (default: a cut). Ignored on the last clip."
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ClipSpec:
        given = [name for name in ("job_id", "path", "generate") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of job_id, path or generate (got {', '.join(given) or 'none'})")
        if self.out_s is not None and self.out_s <= self.in_s:
            raise ValueError(f"out_s ({self.out_s}) must be greater than in_s ({self.in_s})")
        return self


class AudioBedSpec(_Strict):
    """A music or voice track laid under the whole timeline."""

    path: str = Field(description="A local audio (or video) file; it loops if shorter than the timeline.")
    volume: float = Field(default=0.5, ge=0, le=4, description="Gain for the bed (1 = unchanged).")
    fade_in_s: float = Field(default=0.0, ge=0, le=30, description="Fade the bed in over this many seconds.")
    fade_out_s: float = Field(default=1.0, ge=0, le=30, description="Fade the bed out over the last seconds.")
    loop: bool = Field(default=True, description="Repeat the bed when it is shorter than the timeline.")
    cut_to: CutTo | None = Field(
        default=None,
        description="Move each cut between clips to the bed's nearest detected beat (or bar start) at or "
        "before it, trimming the clip (never lengthening it); a transition is centred on the beat. "
        "Refused when the bed has no steady beat.",
    )
    beats_per_bar: int = Field(default=4, ge=2, le=12, description="Beats in a bar, for cut_to 'bars'.")


class TitleSpec(_Strict):
    """A text overlay drawn over the timeline for a time range."""

    text: str = Field(min_length=1, max_length=500, description="The text; long lines are wrapped to fit.")
    start_s: float = Field(default=0.0, ge=0, description="When the text appears, seconds on the output timeline.")
    end_s: float | None = Field(
        default=None, gt=0, description="When it disappears (default: the end of the timeline)."
    )
    position: TitlePosition = Field(default="bottom", description="Where on the frame the text block sits.")
    size: float = Field(
        default=0.07, gt=0.01, le=0.3,
        description="Text height as a fraction of the frame height (0.07 ≈ 50 px at 720p).",
    )
    color: str = Field(default="white", description=f"#RRGGBB, #RRGGBBAA or one of: {', '.join(NAMED_COLOURS)}.")
    outline: bool = Field(default=True, description="Draw a dark outline so the text reads on any picture.")
    box: bool = Field(default=False, description="Draw a translucent dark box behind the text.")
    fade_s: float = Field(default=0.3, ge=0, le=5, description="Fade the text in and out over this many seconds.")
    font: str = Field(
        default="sans-bold",
        description="'sans' or 'sans-bold' (DejaVu Sans, shipped with reelforge), or a path to a .ttf/.otf file.",
    )

    @field_validator("color")
    @classmethod
    def _known_colour(cls, value: str) -> str:
        if value.lower() in NAMED_COLOURS or _HEX_COLOUR.match(value):
            return value
        raise ValueError(f"color {value!r} is not #RRGGBB, #RRGGBBAA or one of {', '.join(NAMED_COLOURS)}")

    @model_validator(mode="after")
    def _ordered(self) -> TitleSpec:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be greater than start_s ({self.start_s})")
        return self


class TimelineSpec(_Strict):
    """A composed video: clips in order with transitions, an optional audio bed, titles and a preset."""

    clips: list[ClipSpec] | None = Field(
        default=None, min_length=1, description="The clips in playing order. Give this or otio_path."
    )
    otio_path: str | None = Field(
        default=None, description="An OpenTimelineIO (.otio) file to render instead of `clips`."
    )
    audio_bed: AudioBedSpec | None = Field(default=None, description="Music or voice under the whole timeline.")
    titles: list[TitleSpec] = Field(default_factory=list, max_length=50, description="Text overlays.")
    subtitles_path: str | None = Field(
        default=None, description="An .srt, .vtt or .ass subtitle file to burn into the picture."
    )
    preset: PresetName = Field(
        default="standard",
        description="draft 854x480@24 1.5 Mb/s; standard 1280x720@30 3 Mb/s; high 1920x1080@30 6 Mb/s; "
        "premium 3840x2160@60 15 Mb/s (sizes are for 16:9).",
    )
    orientation: Orientation = Field(default="16:9", description="Output shape: 16:9, 9:16 (vertical) or 1:1.")
    fit: Fit = Field(
        default="letterbox",
        description="How clips of another shape fill the frame: letterbox/pillarbox (whole picture, black bars) "
        "or crop (fill the frame, cut the edges).",
    )
    fps: int | None = Field(default=None, ge=1, le=120, description="Output frame rate (default: the preset's).")
    exports: list[ExportFormat] = Field(
        default_factory=list, description="Extra formats besides the MP4: 'webm' (VP9/Opus) and/or 'gif'."
    )
    audio_ceiling_dbtp: float = Field(
        default=-1.0, ge=-9, le=0,
        description="True-peak ceiling of the sound in dBTP: a limiter keeps every peak (including those "
        "between samples) below it, so a loud mix never clips. -1 is the usual delivery limit.",
    )
    loudness_lufs: float | None = Field(
        default=None, ge=-36, le=-8,
        description="Optional EBU R128 integrated loudness target in LUFS, e.g. -14 (web/streaming), -16 "
        "(podcasts), -23 (broadcast). The mix is measured and its level set to it (within the ceiling).",
    )

    @model_validator(mode="after")
    def _clips_or_otio(self) -> TimelineSpec:
        if (self.clips is None) == (self.otio_path is None):
            raise ValueError("give exactly one of 'clips' or 'otio_path'")
        return self

    def with_clip_paths(self, paths: Sequence[str | Path]) -> TimelineSpec:
        """A copy whose clip i plays the local file `paths[i]` (job ids and generations resolved)."""
        clips = self.clips or []
        if len(paths) != len(clips):
            raise ValueError(f"expected {len(clips)} paths, got {len(paths)}")
        resolved = [
            clip.model_copy(update={"path": str(p), "job_id": None, "generate": None}) for clip, p in zip(clips, paths)
        ]
        return self.model_copy(update={"clips": resolved})


class BeatCut(BaseModel):
    """One cut placed on the music: where it is on the output and the beat it was placed on."""

    after_clip: int = Field(description="The cut between clips[after_clip] and the next clip.")
    planned_s: float = Field(description="Where the cut (a transition's centre) fell before it moved.")
    cut_s: float = Field(description="Where it is now, on the output timeline (a whole frame).")
    beat_s: float = Field(description="The nearest detected beat (or bar start) on the output timeline.")
    offset_ms: float = Field(description="cut_s - beat_s in milliseconds (within half a frame when on_beat).")
    trimmed_s: float = Field(description="How much shorter the clip became.")
    on_beat: bool = Field(description="False when no beat fitted inside the clip; the planned cut was kept.")


class ComposeResult(BaseModel):
    """What `render_timeline` made: files, plan and how much work the cache saved."""

    path: str = Field(description="The rendered MP4 (H.264/AAC, BT.709, faststart).")
    otio_path: str = Field(description="The OpenTimelineIO sidecar of exactly what was rendered.")
    exports: dict[str, str] = Field(default_factory=dict, description="Extra exports by format (webm, gif).")
    expected_frames: int = Field(description="Frames the output has by construction (checked by probing).")
    plan: PlanKind = Field(description="copy (stream copy), audio_only (video copied) or segments (rendered).")
    segments_rendered: int = Field(description="Segments encoded in this call.")
    segments_cached: int = Field(description="Segments reused from the cache (unchanged since an earlier render).")
    duration_s: float = Field(description="Output duration in seconds (expected_frames / fps).")
    width: int
    height: int
    fps: int
    audio_loudness_lufs: float | None = Field(
        default=None, description="Integrated loudness of the output's sound (EBU R128), measured on the file."
    )
    audio_true_peak_dbtp: float | None = Field(
        default=None, description="True peak of the output's sound in dBTP, measured on the file."
    )
    audio_true_peak_ceiling_dbtp: float | None = Field(
        default=None, description="The ceiling the limiter kept the sound under (None: the sound was copied)."
    )
    audio_gain_db: float = Field(default=0.0, description="Gain applied to meet loudness_lufs (0 without a target).")
    notes: list[str] = Field(default_factory=list, description="Things worth knowing about this render.")
    tempo_bpm: float | None = Field(default=None, description="The bed's detected tempo (with audio_bed.cut_to).")
    beat_cuts: list[BeatCut] = Field(
        default_factory=list, description="With audio_bed.cut_to: where each cut landed against the beat."
    )

