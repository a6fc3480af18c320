"""Kling (Kuaishou) direct API: kling-v1 to kling-v3, text and image to video. Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.kling.facts import KlingFacts

DECLARATION = Declaration(
    name="kling",
    title="Kling",
    adapter="reelforge.providers.kling.adapter:KlingProvider",
    variables=(
        Variable("KLING_ACCESS_KEY", "key", "Kling API access key (the AccessKey half of the key pair)"),
        Variable("KLING_SECRET_KEY", "secret", "Kling API secret key (signs the short-lived JWT sent as the bearer)"),
        Variable("KLING_BASE_URL", "url", "Kling API base URL override (Beijing accounts: https://api-beijing.klingai.com)",
                 required=False, default="https://api-singapore.klingai.com"),
    ),
    facts=KlingFacts,
    auto_rank=60,
)
