"""What the Veo adapter needs to know per model, beyond the catalog's generic capabilities.

Model differences are data here, never branches in the adapter: which request fields a model
takes, which resolutions force an 8 s clip, how many reference images it accepts, its rate limit.
"""

from __future__ import annotations

from typing import Literal

from reelforge.providers.declaration import Facts

PersonGeneration = Literal["allow_all", "allow_adult", "dont_allow"]


class VeoFacts(Facts):
    #: The model takes `parameters.resolution` (Veo 2 does not: it renders 720p only).
    resolution_field: bool = True
    #: Resolutions that only come as 8 s clips (Gemini API docs: 1080p and 4k need 8 s).
    eight_seconds_only: list[str] = []
    #: resolution -> the aspect ratios allowed there, when narrower than the model's list.
    resolution_aspects: dict[str, list[str]] = {}
    #: The model takes `instances[0].lastFrame` (interpolation between two frames).
    last_frame: bool = False
    #: Most `instances[0].referenceImages` ("asset" images) the model takes; 0 = none.
    max_reference_images: int = 0
    #: The model extends one of its own earlier videos (`instances[0].video.uri`), adding 7 s.
    native_extend: bool = False
    #: Audio is always generated and priced in (the Gemini API has no switch to turn it off).
    always_audio: bool = False
    #: Values `options.person_generation` may take for this model.
    person_generation: list[PersonGeneration] = ["allow_all", "allow_adult", "dont_allow"]
    #: Facts taken from third-party pages only, not yet confirmed against the API.
    unverified: list[str] = []

    def reference_limit(self) -> int:
        return self.max_reference_images
