"""Today's usage against the limits that apply: a tiers-file user's allowance, or on a single-user
server the spend against `REELFORGE_MAX_COST_PER_DAY_USD`. Read by `reelforge://usage` and
`reelforge usage`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reelforge.studio.quotas import day_start, resets_in

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


def usage_report(studio: Studio, user: str | None) -> dict[str, Any]:
    since = day_start()
    if user is None:
        spent = studio.store.spent_since(since)
        return {"user": None, "day_started_at": since, "resets": resets_in(), "spend_usd": spent,
                "limits": {"spend_per_day_usd": studio.settings.max_cost_per_day_usd,
                           "cost_per_call_usd": studio.settings.max_cost_per_call_usd}}
    tiers = studio.tiers()
    assert tiers is not None  # a user exists only where a tiers file names them
    tier_name = tiers.users[user].tier
    tier = tiers.tiers[tier_name]
    used = studio.store.usage_since(since, user=user)
    return {"user": user, "tier": tier_name, "day_started_at": since, "resets": resets_in(), **used,
            "limits": tier.model_dump(mode="json")}
