"""Video models hosted on Replicate, through the official `replicate` package. Declaration only."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.replicate.facts import ReplicateFacts

DECLARATION = Declaration(
    name="replicate",
    title="Replicate",
    adapter="reelforge.providers.replicate.adapter:ReplicateProvider",
    variables=(
        Variable("REPLICATE_API_TOKEN", "key", "Replicate API token"),
        Variable("REPLICATE_BASE_URL", "url", "Replicate API base URL override", required=False,
                 default="https://api.replicate.com"),
    ),
    facts=ReplicateFacts,
    auto_rank=40,
)
