"""Runway's Developer API (Gen-4.5, Gen-4 Turbo, Veo 3/3.1, Aleph 2). Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.runway.facts import RunwayFacts

DECLARATION = Declaration(
    name="runway",
    title="Runway",
    adapter="reelforge.providers.runway.adapter:RunwayProvider",
    variables=(
        Variable("RUNWAYML_API_SECRET", "key", "Runway API key"),
        Variable("RUNWAYML_BASE_URL", "url", "Runway API base URL override", required=False,
                 default="https://api.dev.runwayml.com"),
    ),
    facts=RunwayFacts,
    auto_rank=10,
)
