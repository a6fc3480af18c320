"""xAI's Grok Imagine video API (api.x.ai, REST). Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.xai.facts import XaiFacts

DECLARATION = Declaration(
    name="xai",
    title="xAI Grok Imagine",
    adapter="reelforge.providers.xai.adapter:XaiProvider",
    variables=(
        # The xai-sdk reads XAI_API_KEY; it has no base-URL variable (its host is a constructor argument,
        # and it speaks gRPC), so XAI_BASE_URL is ours, for the REST API this adapter uses.
        Variable("XAI_API_KEY", "key", "xAI API key (console.x.ai) for Grok Imagine video"),
        Variable("XAI_BASE_URL", "url", "xAI REST API base URL override", required=False,
                 default="https://api.x.ai/v1"),
    ),
    facts=XaiFacts,
    auto_rank=55,
)
