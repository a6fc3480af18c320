"""Google Veo through the Gemini API (generativelanguage.googleapis.com). Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.veo.facts import VeoFacts

DECLARATION = Declaration(
    name="veo",
    title="Google Veo",
    adapter="reelforge.providers.veo.adapter:VeoProvider",
    variables=(
        Variable("GEMINI_API_KEY", "key", "Gemini API key (Google AI Studio) for Veo; GOOGLE_API_KEY also works",
                 alternative="GOOGLE_API_KEY"),
        # Listed too so it is scrubbed in tests, reported by doctor and redacted; the adapter reads it
        # when GEMINI_API_KEY is unset (as the google-genai SDK does).
        Variable("GOOGLE_API_KEY", "key", "Gemini API key under its alternative name (used when GEMINI_API_KEY is unset)",
                 required=False),
        Variable("GOOGLE_GEMINI_BASE_URL", "url", "Gemini API base URL override (the google-genai SDK's variable)",
                 required=False, default="https://generativelanguage.googleapis.com"),
    ),
    facts=VeoFacts,
    auto_rank=35,
)
