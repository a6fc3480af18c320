"""How each Replicate model is called: a data row per model slug, never a class per model."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import model_validator

from reelforge.providers.declaration import Facts

#: How long a create may hold the connection with `Prefer: wait` (short: the job id is what we need).
DEFAULT_PREFER_WAIT_S = 5


class FrameRule(Facts):
    """The model's frame-count input: `field`, with `choices` or a `min`..`max` range."""

    field: str
    choices: list[int] | None = None
    min: int | None = None
    max: int | None = None
    #: Frame count -> the model's enum spelling (Stable Video Diffusion names its lengths).
    enum: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_form(self) -> FrameRule:
        if (self.choices is None) == (self.min is None or self.max is None):
            raise ValueError("give either 'choices' or both 'min' and 'max'")
        return self


class ReplicateFacts(Facts):
    #: "model": an official model by owner/name; "version": a community model pinned to `version`.
    endpoint: Literal["model", "version"]
    version: str | None = None
    #: False while the version hash comes from a third-party listing.
    version_verified: bool = True
    #: Our parameter name -> the model's input name; a parameter not listed is not sent.
    fields: dict[str, str] = {}
    #: Inputs always sent as given.
    fixed: dict[str, Any] = {}
    frames: FrameRule | None = None
    #: Extra inputs a caller may pass through `options`.
    options: list[str] = []
    prefer_wait: int = DEFAULT_PREFER_WAIT_S

    @model_validator(mode="after")
    def _version_pinned(self) -> ReplicateFacts:
        if self.endpoint == "version" and not re.fullmatch(r"[0-9a-f]{64}", self.version or ""):
            raise ValueError("a 'version' endpoint needs a 64-hex 'version'")
        return self
