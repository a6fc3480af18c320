"""What the Kling adapter needs to know per model, beyond the catalog's generic capabilities.

Kling's feature matrix is per model *and* mode *and* duration (an end frame on kling-v1 only at
5 s, camera control on kling-v1 only in std mode at 5 s, sound on kling-v2-6 only in pro mode), so
these facts name the combinations the adapter accepts; anything else is refused before a request.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from reelforge.providers.declaration import Facts

Mode = Literal["std", "pro"]


class Combination(BaseModel):
    """Where a feature is accepted: any of these resolutions, any of these durations (empty: any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolutions: list[str] = []
    durations: list[float] = []

    def allows(self, resolution: str, seconds: float) -> bool:
        return (not self.resolutions or resolution in self.resolutions) and (
            not self.durations or any(abs(seconds - d) < 1e-6 for d in self.durations))

    def describe(self) -> str:
        parts = []
        if self.resolutions:
            parts.append("resolution " + " or ".join(self.resolutions))
        if self.durations:
            parts.append("duration_s " + " or ".join(f"{d:g}" for d in self.durations))
        return " at ".join(parts) or "any settings"


class KlingFacts(Facts):
    #: Our resolution -> Kling's `mode` (std renders 720p, pro 1080p); empty: the model has one
    #: quality (the master models) and no `mode` is sent.
    modes: dict[str, Mode] = {}
    #: Where `image_tail` (an end frame) is accepted; None: never.
    last_frame: Combination | None = None
    #: Where `camera_control` is accepted, per input kind ("text", "image"); absent: never.
    camera: dict[Literal["text", "image"], Combination] = {}
    #: Where `sound: "on"` is accepted; None: the model has no `sound` field at all.
    sound: Combination | None = None
    #: Kling's `video-extend` accepts this model's videos (`video_id` of a finished task).
    native_extend: bool = False
