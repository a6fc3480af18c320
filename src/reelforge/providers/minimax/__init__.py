"""MiniMax's Hailuo models through MiniMax's own API. Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.minimax.facts import MiniMaxFacts

DECLARATION = Declaration(
    name="minimax",
    title="MiniMax Hailuo",
    adapter="reelforge.providers.minimax.adapter:MiniMaxProvider",
    variables=(
        Variable("MINIMAX_API_KEY", "key", "MiniMax (Hailuo) API key"),
        Variable("MINIMAX_API_HOST", "url", "MiniMax API host for your key's region", required=False,
                 default="https://api.minimax.io"),
    ),
    facts=MiniMaxFacts,
    auto_rank=30,
)
