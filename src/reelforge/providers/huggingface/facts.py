"""What the Hugging Face adapter needs per model: which inference provider serves it, and its fields.

Each catalog row is one (Hub model, inference provider) pair: the router forwards the request to
that provider's own API, so the body is that provider's input schema. The differences between
schemas (field names, how a duration is spelled) are data here, never branches in the adapter.
"""

from __future__ import annotations

from typing import Any, Literal

from reelforge.providers.declaration import Facts

#: The router prefixes this adapter speaks. Each is a job API with an id to poll, so a lost answer
#: is `unknown` and nothing blocks until the video is ready (novita's and wavespeed's blocking or
#: undocumented routes are left out on purpose).
Route = Literal["fal-ai", "together", "replicate"]


class HuggingFaceFacts(Facts):
    #: The inference provider the router forwards to (`https://router.huggingface.co/{route}/...`).
    route: Route
    #: The Hub repository id (`Wan-AI/Wan2.2-T2V-A14B`): what `InferenceClient(model=...)` takes.
    hf_model: str
    #: The provider's own model id from the Hub's `inferenceProviderMapping` (fal endpoint id,
    #: Together model string, Replicate `owner/name` or `owner/name:version`).
    provider_model: str
    #: Where the duration goes and how it is spelled: seconds as int or string, or a frame count
    #: (`round(seconds * fps) + frames_offset`, Wan's 4k+1 rule). None: the model has a fixed length.
    duration_field: str | None = None
    duration_form: Literal["int", "str", "frames"] = "int"
    frames_offset: int = 0
    #: Field names for the other generic parameters; None where the model has no such input.
    aspect_field: str | None = None
    resolution_field: str | None = None
    fps_field: str | None = None
    seed_field: str | None = "seed"
    negative_prompt_field: str | None = "negative_prompt"
    #: Send the output size as `width`/`height` pixels (Together) instead of named fields.
    size_fields: bool = False
    #: Fixed fields always sent (output format, safety checker), part of what the price assumes.
    constants: dict[str, Any] = {}
