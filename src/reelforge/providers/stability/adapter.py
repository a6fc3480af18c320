"""Stability's Stable Video Diffusion API ceased on 2025-07-24. Its catalog rows are `retired` with a
replacement on Replicate, so planning redirects every request (and says so) before an adapter is
used; this one exists only to refuse, should anything reach it."""

from __future__ import annotations

from reelforge.catalog import ModelEntry
from reelforge.errors import ModelRetired
from reelforge.generation_spec import GenerationSpec
from reelforge.providers.base import Provider


class StabilityProvider(Provider):
    name = "stability"

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        raise ModelRetired(f"{model.key}: Stability's video API was retired on 2025-07-24.", param="model",
                           hint="Use replicate/stable-video-diffusion (the same model) or the local backend.")
