"""What the xAI adapter needs to know per model, beyond the catalog's generic capabilities."""

from __future__ import annotations

from reelforge.providers.declaration import Facts


class XaiFacts(Facts):
    #: Reference-to-video: at most this many images in `reference_images` (0: the model takes none).
    max_reference_images: int = 0
    #: The longest clip reference-to-video makes, seconds (xAI caps that mode below the model's maximum).
    reference_max_seconds: float = 10
    #: The model takes `last_frame` (an image pinned as the exact last frame).
    last_frame: bool = False
    #: The model animates an image and makes nothing from text alone: a first frame or references needed.
    needs_image: bool = False
    #: The model extends its own earlier videos through `POST /v1/videos/extensions`.
    native_extend: bool = False
    #: Length of an extension's new part, seconds (the result is the whole, lengthened video).
    extend_seconds: tuple[float, float] = (2, 10)

    def reference_limit(self) -> int:
        return self.max_reference_images
