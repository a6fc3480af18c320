"""Luma: the Dream Machine API (ray-2, ray-flash-2) and the Agents API (ray-3.2). Declaration only."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.luma.facts import LumaFacts

DECLARATION = Declaration(
    name="luma",
    title="Luma",
    adapter="reelforge.providers.luma.adapter:LumaProvider",
    variables=(
        Variable("LUMAAI_API_KEY", "key", "Luma AI (Dream Machine) API key"),
        Variable("LUMA_AGENTS_API_KEY", "key", "Luma Agents API key (ray-3.2); falls back to LUMAAI_API_KEY",
                 required=False),
        Variable("LUMAAI_BASE_URL", "url", "Luma Dream Machine API base URL override", required=False,
                 default="https://api.lumalabs.ai/dream-machine/v1"),
        Variable("LUMA_AGENTS_BASE_URL", "url", "Luma Agents API base URL override", required=False,
                 default="https://agents.lumalabs.ai/v1"),
    ),
    facts=LumaFacts,
    auto_rank=20,
)
