"""What the Luma adapter needs to know per model: which API serves it and how it takes camera moves."""

from __future__ import annotations

from typing import Literal

from reelforge.providers.declaration import Facts


class LumaFacts(Facts):
    api: Literal["dream_machine", "agents"]
    #: "concepts": Dream Machine's camera concept keys; "prompt": the move is spelled out in the prompt.
    camera: Literal["concepts", "prompt"] = "prompt"
    #: How images reach the API (Dream Machine has no upload: public URLs only).
    image_inputs: Literal["public_url_only", "url_or_inline"]
    #: The concept keys come from a third-party list, not yet verified against the API.
    concept_keys_unverified: bool = False
    #: Inline (base64) image ceiling in MB for the Agents API.
    inline_max_mb: float | None = None
