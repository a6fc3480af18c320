"""Routing policies for `provider="auto"`: which eligible model serves a request, and why.

`preference` (the default) keeps the declared order: the configured default provider, else the
first provider with a key (`routing.choose_provider`). The others plan every candidate model:

- eligible: a provider with its key set and not cooling down (`health.py`), a current model that
  accepts the request as planned (inputs, duration, ratio, resolution, audio, references: the same
  checks a named model gets) and fits the per-call limit and what is left of today's budget;
- ranked: `cheapest` by the quote; `fastest` by expected time (the model's measured p50 from the
  ledger once it has `MIN_SAMPLES` jobs, else the catalog's typical time for this length);
  `best` by the catalog's quality tier (1-5), then the declared provider order, then price;
  `local_first` the local GPU backend when it can run the request, else `best`.

Ties fall to the declared order. The keyless animatic (`preview`) is never ranked against real
video; it serves only when nothing else is eligible. Every plan says which policy chose it and why,
and the losers keep their reasons (`estimate_cost(compare=true)` shows both).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reelforge.errors import ReelforgeError
from reelforge.providers.registry import routing_preference
from reelforge.studio.health import MIN_SAMPLES, health

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

#: A `planning.GenerationPlan` (planning imports this module, so the type is named, not imported).
GenerationPlan = Any

POLICIES = ("preference", "cheapest", "fastest", "best", "local_first")
#: A model's catalog quality tier when it has none.
DEFAULT_QUALITY = 3


@dataclass
class Candidate:
    plan: Any  # GenerationPlan
    expected_s: float
    measured: bool
    rank: int  # the provider's place in the declared order

    @property
    def key(self) -> str:
        return self.plan.model.key

    def speed_text(self) -> str:
        return f"{self.expected_s:g} s {'measured p50' if self.measured else 'typical'}"


@dataclass
class Routed:
    policy: str
    ranked: list[Candidate]
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (provider/model, why)
    #: What 'auto' skipped because a provider is cooling down, said once per provider.
    cooling: list[str] = field(default_factory=list)


def route(studio: Studio, policy: str, plan_one: Callable[[str, str], GenerationPlan], *,
          everything: bool = False) -> Routed:
    """Plan every candidate under `policy`; the first of `ranked` serves the request. `everything`
    (a comparison for the user) ranks deprecated models and the animatic too, and ignores cool-downs."""
    order = routing_preference()
    last_resort = order[-1] if order else None
    seen = health(studio)
    limit = _money_left(studio)
    ranked: list[Candidate] = []
    excluded: list[tuple[str, str]] = []
    skipped: list[str] = []
    for entry in studio.catalog.providers.values():
        cooling = None if everything else seen.cooling.get(entry.name)
        if cooling is not None:
            skipped.append(cooling.note())
        for model in entry.models:
            if model.status == "retired" or (not everything and (model.status == "deprecated" or entry.name == last_resort)):
                continue
            if cooling is not None:
                excluded.append((model.key, cooling.note()))
                continue
            try:
                planned = plan_one(entry.name, model.id)
            except ReelforgeError as exc:
                excluded.append((model.key, exc.message))
                continue
            if limit is not None and planned.quote.usd > limit[0]:
                excluded.append((model.key, f"${planned.quote.usd:.2f} is over {limit[1]}"))
                continue
            measured = seen.p50(entry.name, model.id)
            rank = order.index(entry.name) if entry.name in order else len(order)
            ranked.append(Candidate(planned, measured if measured is not None else planned.eta_s,
                                    measured is not None, rank))
    ranked.sort(key=_sort_key(policy))
    if policy == "local_first":
        ranked.sort(key=lambda c: not c.plan.renders_here)  # stable: local first, `best` within each
    if not ranked and last_resort is not None and not everything:  # nothing real can run it: the free animatic, as today
        try:
            fallback = plan_one(last_resort, "")
            ranked.append(Candidate(fallback, fallback.eta_s, False, len(order)))
        except ReelforgeError as exc:
            excluded.append((last_resort, exc.message))
    return Routed(policy, ranked, excluded, skipped)


def why(routed: Routed) -> str:
    """The note a routed plan carries: the policy, the figure it chose by, and the runner-up."""
    if not routed.ranked:
        return f"route={routed.policy}: no model could serve the request."
    first = routed.ranked[0]
    figure = {"cheapest": f"${first.plan.quote.usd:.2f}", "fastest": first.speed_text(),
              "best": f"quality tier {_quality(first)}", "local_first": "renders on this machine" if
              first.plan.renders_here else f"no local model fits; quality tier {_quality(first)}"}.get(routed.policy, "")
    text = (f"Chosen by route={routed.policy}: {first.key} ({figure}), first of {len(routed.ranked)} eligible "
            f"model(s)")
    if len(routed.ranked) > 1:
        second = routed.ranked[1]
        text += (f"; next {second.key} (${second.plan.quote.usd:.2f}, {second.speed_text()}, "
                 f"quality tier {_quality(second)})")
    text += f"; {len(routed.excluded)} excluded (see estimate_cost compare=true)." if routed.excluded else "."
    return " ".join([text, *routed.cooling])


def _sort_key(policy: str) -> Callable[[Candidate], tuple]:
    if policy == "cheapest":
        return lambda c: (c.plan.quote.usd, c.expected_s, c.rank, c.key)
    if policy == "fastest":
        return lambda c: (c.expected_s, c.plan.quote.usd, c.rank, c.key)
    return lambda c: (-_quality(c), c.rank, c.plan.quote.usd, c.key)  # best, and local_first's tie-break


def _quality(c: Candidate) -> int:
    return c.plan.model.quality or DEFAULT_QUALITY


def _money_left(studio: Studio) -> tuple[float, str] | None:
    """The most one request may cost now: the per-call limit, or what is left of today's budget."""
    s = studio.settings
    limits: list[tuple[float, str]] = []
    if s.max_cost_per_call_usd is not None:
        limits.append((s.max_cost_per_call_usd, f"the per-call limit of ${s.max_cost_per_call_usd:.2f}"))
    if s.max_cost_per_day_usd is not None:
        left = max(0.0, s.max_cost_per_day_usd - studio.store.spent_since(time.time() - time.time() % 86400))
        limits.append((left, f"today's remaining budget of ${left:.2f}"))
    return min(limits) if limits else None


__all__ = ["MIN_SAMPLES", "POLICIES", "Candidate", "Routed", "route", "why"]
