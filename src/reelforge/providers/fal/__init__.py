"""fal.ai's queue API (Kling, Pika, Wan, LTX-2, Seedance, Hailuo, Veo). Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.fal.facts import FalFacts

DECLARATION = Declaration(
    name="fal",
    title="fal",
    adapter="reelforge.providers.fal.adapter:FalProvider",
    variables=(
        Variable("FAL_KEY", "key", "fal API key (the key_id:key_secret string from fal.ai/dashboard/keys)"),
        # fal_client's own variable holds a bare host ("queue.fal.run"); a full URL is accepted too.
        Variable("FAL_QUEUE_RUN_HOST", "url", "fal queue host or URL override", required=False,
                 default="https://queue.fal.run"),
        # fal_client hard-codes https://rest.fal.ai for storage uploads; this name is reelforge's own.
        Variable("FAL_REST_URL", "url", "fal REST API (storage uploads) base URL override", required=False,
                 default="https://rest.fal.ai"),
    ),
    facts=FalFacts,
    auto_rank=45,
)
