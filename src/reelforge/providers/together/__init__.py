"""Together AI's video API (`/v2/videos`): Veo, Sora, Kling, Seedance, Hailuo, PixVerse, Vidu, Wan hosted
on one key. Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.together.facts import TogetherFacts

DECLARATION = Declaration(
    name="together",
    title="Together AI",
    adapter="reelforge.providers.together.adapter:TogetherProvider",
    variables=(
        Variable("TOGETHER_API_KEY", "key", "Together AI API key (video generation)"),
        # The official SDK (together 3.1.1) reads TOGETHER_BASE_URL and defaults to api.together.ai;
        # api.together.xyz, used in Together's curl examples, is the same service.
        Variable("TOGETHER_BASE_URL", "url", "Together AI API base URL override", required=False,
                 default="https://api.together.ai"),
    ),
    facts=TogetherFacts,
    # Prices are third-party figures (marked estimates) and the key often exists for Together's LLMs:
    # chosen after the first-party video APIs, before Kling's direct API.
    auto_rank=50,
)
