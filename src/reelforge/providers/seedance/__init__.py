"""ByteDance Seedance direct, through BytePlus ModelArk (or Volcengine Ark in China). Declaration only."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.seedance.facts import SeedanceFacts

DECLARATION = Declaration(
    name="seedance",
    title="Seedance",
    adapter="reelforge.providers.seedance.adapter:SeedanceProvider",
    variables=(
        # ARK_API_KEY is the name the official SDK (byteplus-python-sdk-v2, Ark runtime) reads.
        Variable("ARK_API_KEY", "key", "BytePlus ModelArk (or Volcengine Ark) API key for Seedance"),
        Variable("ARK_BASE_URL", "url", "Ark region host: BytePlus Asia-Pacific by default; "
                 "https://ark.cn-beijing.volces.com/api/v3 for Volcengine (China)", required=False,
                 default="https://ark.ap-southeast.bytepluses.com/api/v3"),
    ),
    facts=SeedanceFacts,
    auto_rank=65,
)
