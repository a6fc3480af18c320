"""The caller's tier, checked before the ledger row: allowed providers and models, the longest
clip and largest size, and what is left of today's allowance (generations, seconds of video,
spend). Every refusal names the limit, what was used, and when it resets.

Usage is counted from the shared ledger, so every replica enforces the same allowance. Two calls
landing at the same instant on two replicas can both pass the last unit of an allowance; spend is
still bounded by the per-call quote.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reelforge.catalog import RESOLUTION_SHORT_EDGE
from reelforge.errors import QuotaExceeded
from reelforge.studio.tier_access import check_model_allowed
from reelforge.tiers import Tier

if TYPE_CHECKING:
    from reelforge.studio.core import Studio
    from reelforge.studio.prepared import Prepared

DAY_S = 86400


def generations_in(prepared: Prepared) -> list[dict[str, Any]]:
    """The generation specs a prepared job will pay for (itself, its step, or its clips' steps)."""
    request = prepared.request
    if prepared.kind == "generate":
        return [request]
    steps = [request.get("step")] + [c.get("step") for c in request.get("clips", []) + request.get("items", [])]
    return [step["spec"] for step in steps if step]


def day_start(now: float | None = None) -> float:
    now = time.time() if now is None else now
    return now - (now % DAY_S)


def resets_in(now: float | None = None) -> str:
    now = time.time() if now is None else now
    left = int(day_start(now) + DAY_S - now)
    return f"at 00:00 UTC (in {left // 3600} h {left % 3600 // 60:02d} min)"


def check_quota(studio: Studio, user: str | None, prepared: Prepared) -> None:
    tiers = studio.tiers()
    if tiers is None or user is None:
        return
    tier_name = tiers.users[user].tier
    tier = tiers.tiers[tier_name]
    specs = generations_in(prepared)
    for spec in specs:
        check_model_allowed(studio, user, spec["provider"], spec["model"])
        _check_shape(tier, tier_name, spec)
    used = studio.store.usage_since(day_start(), user=user)
    new_seconds = sum(float(spec["duration_s"]) for spec in specs)
    _check_allowance(tier_name, "generations", tier.generations_per_day, used["generations"], len(specs),
                     lambda n: f"{n:g} generation{'s' if n != 1 else ''}")
    _check_allowance(tier_name, "video", tier.video_seconds_per_day, used["video_seconds"], new_seconds,
                     lambda n: f"{n:g} s of video")
    _check_allowance(tier_name, "spend", tier.spend_per_day_usd, used["spend_usd"], prepared.quote_usd,
                     lambda n: f"${n:.2f}")


def _check_shape(tier: Tier, tier_name: str, spec: dict[str, Any]) -> None:
    if tier.max_duration_s is not None and float(spec["duration_s"]) > tier.max_duration_s + 1e-6:
        raise QuotaExceeded(f"Your tier '{tier_name}' allows clips up to {tier.max_duration_s:g} s; this one is "
                            f"{float(spec['duration_s']):g} s.", param="duration_s")
    if tier.max_resolution is not None:
        limit = RESOLUTION_SHORT_EDGE.get(tier.max_resolution.lower(), 0)
        asked = RESOLUTION_SHORT_EDGE.get(str(spec["resolution"]).lower(), 0)
        if asked > limit:
            raise QuotaExceeded(f"Your tier '{tier_name}' allows up to {tier.max_resolution}; this clip asks for "
                                f"{spec['resolution']}.", param="resolution")


def _check_allowance(tier_name: str, what: str, limit: float | None, used: float, adding: float,
                     amount: Callable[[float], str]) -> None:
    if limit is None or adding <= 0 or used + adding <= limit + 1e-9:
        return
    raise QuotaExceeded(
        f"Your tier '{tier_name}' allows {amount(limit)} ({what}) per UTC day; {amount(used)} used today, and this "
        f"call needs {amount(adding)} more. The allowance resets {resets_in()}.",
        hint="Try again after the reset, or ask for a smaller job.")
