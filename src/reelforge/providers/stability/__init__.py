"""Stability AI's video API, retired: catalog rows only, each redirecting (with a warning) to Stable
Video Diffusion on Replicate. Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration

DECLARATION = Declaration(
    name="stability",
    title="Stability AI (video API retired)",
    adapter="reelforge.providers.stability.adapter:StabilityProvider",
    variables=(),  # nothing is ever sent to Stability: there is no key to ask for
    auto_rank=None,
)
