"""OpenAI Sora 2 through the Videos API (`/v1/videos`). Declaration only: import-light.

OpenAI shut the Videos API and the Sora 2 models down on 2026-09-24 (deprecations page; openai SDK
3.57 marks every `videos` method deprecated). The package stays usable against an OpenAI-compatible
gateway named by OPENAI_BASE_URL, and is never picked by 'auto' routing (no `auto_rank`).
"""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.sora.facts import SoraFacts

DECLARATION = Declaration(
    name="sora",
    title="OpenAI Sora",
    adapter="reelforge.providers.sora.adapter:SoraProvider",
    variables=(
        Variable("OPENAI_API_KEY", "key", "OpenAI API key (Sora 2 video generation)"),
        Variable("OPENAI_BASE_URL", "url", "OpenAI API base URL override (an OpenAI-compatible gateway)",
                 required=False, default="https://api.openai.com/v1"),
    ),
    facts=SoraFacts,
    # A key many users hold for other OpenAI APIs must not route 'auto' requests to a shut-down API.
    auto_rank=None,
)
