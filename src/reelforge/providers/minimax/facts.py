"""What the MiniMax adapter needs to know per model: the rules MiniMax enforces beyond the catalog."""

from __future__ import annotations

from reelforge.providers.declaration import Facts


class MiniMaxFacts(Facts):
    #: Image-to-video only (no text-only requests).
    requires_first_frame: bool = False
    #: Longest duration at a resolution (lower-case name) where it is shorter than the catalog's.
    max_duration_by_resolution: dict[str, float] = {}
    #: Resolutions offered only with a first frame.
    resolution_only_with_image: list[str] = []
    #: Resolutions at which a last frame is refused.
    last_frame_excludes: list[str] = []
    #: Whether the create body carries `duration` / `resolution` (the Director models take neither).
    send_duration: bool = True
    send_resolution: bool = True
