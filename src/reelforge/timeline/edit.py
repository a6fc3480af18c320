"""The frame-exact edit that the planner and renderer work from.

An `Edit` is what an OpenTimelineIO timeline says, flattened into overlap form at the output
frame rate: every clip with the whole source range it plays (including the frames it shares
with its neighbours during transitions), and between each pair of clips a `Cut` saying how many
frames they overlap and which ffmpeg `xfade` transition blends them. All counts are whole output
frames, so the output length is known exactly before anything is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reelforge.timeline.spec import TransitionSpec

#: Our transition kinds to ffmpeg xfade names. "crossfade" is the editor's cross dissolve
#: (xfade `fade`); xfade's own `dissolve` is a dithered pixel dissolve and is offered as such.
_XFADE_BY_KIND = {
    "crossfade": "fade",
    "fade_black": "fadeblack",
    "fade_white": "fadewhite",
    "dissolve": "dissolve",
    "zoom": "zoomin",
}


#: Every xfade transition a spec can produce (the only names accepted from .otio metadata).
KNOWN_XFADES = frozenset(
    [*_XFADE_BY_KIND.values(), *(f"{k}{d}" for k in ("wipe", "slide") for d in ("left", "right", "up", "down"))]
)


def xfade_name(transition: TransitionSpec) -> str | None:
    """The ffmpeg xfade transition for a spec, or None for a cut."""
    if not transition.overlaps:
        return None
    if transition.kind in ("wipe", "slide"):
        return f"{transition.kind}{transition.direction or 'left'}"
    return _XFADE_BY_KIND[transition.kind]


def transition_from_xfade(xfade: str | None, frames: int, fps: int) -> TransitionSpec:
    """The spec that produces `xfade` (inverse of `xfade_name`); unknown names become crossfades."""
    if not xfade or frames <= 0:
        return TransitionSpec(kind="cut", duration_s=0)
    for direction in ("left", "right", "up", "down"):
        for kind in ("wipe", "slide"):
            if xfade == f"{kind}{direction}":
                return TransitionSpec(kind=kind, direction=direction, duration_s=frames / fps)
    kind = next((k for k, name in _XFADE_BY_KIND.items() if name == xfade), "crossfade")
    return TransitionSpec(kind=kind, duration_s=frames / fps)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PlacedClip:
    """One clip of the edit: which source frames it plays, in output frames."""

    index: int
    path: Path
    #: First source frame used (at the output rate), including frames shared with the previous clip.
    src_start: int
    #: Frames used, including those shared with both neighbours.
    frames: int
    mute: bool = False
    volume: float = 1.0


@dataclass(frozen=True)
class Cut:
    """The join between clip `index` and clip `index + 1`."""

    index: int
    frames: int = 0
    xfade: str | None = None


@dataclass(frozen=True)
class Edit:
    """Clips in order and the cuts between them (len(cuts) == len(clips) - 1)."""

    fps: int
    clips: tuple[PlacedClip, ...]
    cuts: tuple[Cut, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.cuts) != max(0, len(self.clips) - 1):
            raise ValueError(f"{len(self.clips)} clips need {len(self.clips) - 1} cuts, got {len(self.cuts)}")

    @property
    def total_frames(self) -> int:
        """Exact output length: every clip's frames, less each overlap counted once."""
        return sum(c.frames for c in self.clips) - sum(c.frames for c in self.cuts)

    def overlap_before(self, i: int) -> int:
        return self.cuts[i - 1].frames if i > 0 else 0

    def overlap_after(self, i: int) -> int:
        return self.cuts[i].frames if i < len(self.cuts) else 0

    def clip_start(self, i: int) -> int:
        """Output frame at which clip i starts to show (the start of its incoming transition)."""
        start = 0
        for k in range(i):
            start += self.clips[k].frames - self.cuts[k].frames
        return start
