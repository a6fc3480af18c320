"""What the Together adapter needs per model beyond the catalog's generic capabilities."""

from __future__ import annotations

from typing import Literal

from reelforge.providers.declaration import Facts


class TogetherFacts(Facts):
    #: resolution -> aspect ratio -> "WIDTHxHEIGHT": the only pixel sizes this model renders on Together.
    sizes: dict[str, dict[str, str]]
    #: Keyframe positions `media.frame_images` accepts ("first", and "last" for interpolating models).
    keyframes: list[Literal["first", "last"]] = ["first"]
    #: The model id itself carries generated sound (veo-3.0-audio): a silent request is refused.
    always_audio: bool = False
    #: Send `fps` on the wire (only where the model offers a choice; otherwise its native rate).
    send_fps: bool = False
