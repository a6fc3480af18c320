"""Which providers and models a user's tier includes: checked as soon as a plan names them, before
any key check or quote, so a tier user is told about their tier rather than the server's keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelforge.errors import QuotaExceeded

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


def check_model_allowed(studio: Studio, user: str | None, provider: str, model: str) -> None:
    """The tier's providers and models, checked as soon as a plan names them (before any key check)."""
    tiers = studio.tiers()
    if tiers is None or user is None:
        return
    tier_name = tiers.users[user].tier
    tier = tiers.tiers[tier_name]
    if tier.providers is not None and provider not in tier.providers:
        raise QuotaExceeded(f"Your tier '{tier_name}' does not include the {provider} provider; it allows "
                            f"{', '.join(tier.providers) or 'none'}.", param="provider")
    if tier.models is not None and f"{provider}/{model}" not in tier.models:
        raise QuotaExceeded(f"Your tier '{tier_name}' does not include {provider}/{model}; it allows "
                            f"{', '.join(tier.models)}.", param="model")
