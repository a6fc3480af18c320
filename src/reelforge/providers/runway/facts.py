"""What the Runway adapter needs to know per model, beyond the catalog's generic capabilities."""

from __future__ import annotations

from typing import Literal

from reelforge.providers.declaration import Facts

Endpoint = Literal["text_to_video", "image_to_video", "video_to_video"]


class RunwayFacts(Facts):
    #: Which endpoint serves each input kind ("text", "image", "video"); a kind not listed is refused.
    endpoints: dict[Literal["text", "image", "video"], Endpoint]
    #: resolution -> aspect ratio -> Runway's pixel `ratio` ("1280:720"); empty for video-to-video.
    ratios: dict[str, dict[str, str]] = {}
    #: Aspect ratios text-to-video accepts when narrower than the image table.
    text_aspect_ratios: list[str] = []
    #: Keyframe positions `promptImage` accepts.
    image_positions: list[Literal["first", "last"]] = []
    #: The model takes an explicit `audio` flag (which changes the price).
    audio_field: bool = False
    #: The model always generates audio (a silent request is refused).
    always_audio: bool = False
    #: Longest input video for video-to-video (a third-party figure, not yet verified).
    max_input_seconds_unverified: float | None = None
