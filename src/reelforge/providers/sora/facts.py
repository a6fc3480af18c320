"""What the Sora adapter needs per model beyond the catalog's generic capabilities."""

from __future__ import annotations

from reelforge.providers.declaration import Facts


class SoraFacts(Facts):
    #: resolution -> aspect ratio -> Sora's `size` ("1280x720"); the only sizes the API takes.
    sizes: dict[str, dict[str, str]]
    #: Sora 2 always renders sound; a silent request is refused rather than billed as if it were silent.
    always_audio: bool = True
    #: Lengths `POST /videos/extensions` takes for the new segment (the SDK docstring: 4-20 s).
    extension_seconds: list[int] = [4, 8, 12, 16, 20]
