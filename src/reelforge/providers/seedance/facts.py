"""What the Seedance adapter needs to know per model, beyond the catalog's generic capabilities.

Ark bills video by output tokens: tokens = width x height x fps x seconds / `pixels_per_token`,
times a price per million tokens that depends on the resolution (and is lower when a reference
video is given, which reelforge does not send). The catalog's `price` row restates the same figures
per megapixel-frame (price per million tokens / pixels_per_token) so the shared quote code prices it;
a test keeps the two in step.
"""

from __future__ import annotations

from reelforge.providers.declaration import Facts


class SeedanceFacts(Facts):
    #: resolution -> aspect ratio -> "WIDTHxHEIGHT" that Seedance renders (and bills) for it.
    sizes: dict[str, dict[str, str]]
    #: resolution -> USD per million output tokens (requests without a reference video).
    usd_per_million_tokens: dict[str, float]
    #: Output pixels (per frame, times frames) that make one token.
    pixels_per_token: int = 1024
    #: The model's id on Volcengine Ark (China host); None: not offered there.
    volcengine_id: str | None = None
    #: Most reference images one request takes (role reference_image).
    max_reference_images: int = 9

    def size(self, resolution: str, aspect_ratio: str) -> tuple[int, int] | None:
        """The rendered pixel size, or None when the pair is not offered."""
        text = self.sizes.get(resolution, {}).get(aspect_ratio)
        if text is None:
            return None
        width, height = text.split("x")
        return int(width), int(height)

    def tokens(self, width: int, height: int, fps: int, seconds: float) -> int:
        """Ark's token count for an output of this size and length."""
        return int(width * height * fps * seconds // self.pixels_per_token)

    def reference_limit(self) -> int:
        return self.max_reference_images
