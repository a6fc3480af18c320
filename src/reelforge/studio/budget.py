"""The money limits a call must pass before its ledger row exists: per call, per UTC day, and the
confirmation threshold above which the user must approve the quoted price."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from reelforge.errors import BudgetExceeded, ConfirmationRequired
from reelforge.studio.tool_schemas import CallOptions

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


def check_budget(studio: Studio, usd: float, call: CallOptions, what: str) -> None:
    s = studio.settings
    if s.max_cost_per_call_usd is not None and usd > s.max_cost_per_call_usd:
        raise BudgetExceeded(
            f"{what} is quoted at ${usd:.2f}, above the per-call limit of ${s.max_cost_per_call_usd:.2f} "
            "(REELFORGE_MAX_COST_PER_CALL_USD).", hint="Choose a shorter clip, lower resolution or cheaper model.")
    if s.max_cost_per_day_usd is not None and usd > 0:
        day_start = time.time() - (time.time() % 86400)
        spent = studio.store.spent_since(day_start)
        if spent + usd > s.max_cost_per_day_usd:
            raise BudgetExceeded(
                f"{what} (${usd:.2f}) would bring today's spend to ${spent + usd:.2f}, above the daily limit "
                f"of ${s.max_cost_per_day_usd:.2f} (REELFORGE_MAX_COST_PER_DAY_USD).")
    if usd > s.confirm_above_usd and not call.confirm:
        raise ConfirmationRequired(
            f"{what} costs about ${usd:.2f}, above the confirmation threshold of ${s.confirm_above_usd:.2f}.",
            hint="Tell the user the price; if they agree, call again with confirm=true.")
