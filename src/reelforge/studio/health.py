"""Provider health, measured from the ledger: success rate, failure kinds and latency per model.

Every finished generation is a sample: succeeded or failed (with its error code), and how long it
took from the ledger row to the end. A fallback's earlier attempts (refused before any money moved)
count against the provider that refused. Routing reads three things from here: the measured p50 of
a model (the `fastest` policy, once there are `MIN_SAMPLES`), and whether a provider is cooling down:
its last `COOL_AFTER` finished attempts all failed on the provider's side within the cool-down, so
`auto` skips it until the cool-down has passed since its last failure, and says so.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

#: Samples a model needs before its measured latency replaces the catalog's typical time.
MIN_SAMPLES = 3
#: Consecutive provider-side failures that start a cool-down.
COOL_AFTER = 3
#: How far back the ledger is read (days).
WINDOW_DAYS = 30
#: Failures that say nothing about the provider's health (the request or the account's own limits,
#: a user's cancel): they never start a cool-down.
NOT_THE_PROVIDER = frozenset({"bad_request", "unsupported_parameter", "input_not_allowed", "moderation",
                              "canceled", "budget_exceeded", "quota_exceeded", "auth_missing", "model_retired"})
#: Reads of the ledger are cached this long (routing asks once per candidate model).
CACHE_S = 5.0


@dataclass
class ModelHealth:
    provider: str
    model: str
    succeeded: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        if len(self.latencies) == 1:
            return round(self.latencies[0], 1)
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return round(cuts[int(q * 100) - 1], 1)

    def view(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "finished": self.finished,
                "success_rate": round(self.succeeded / self.finished, 3) if self.finished else None,
                "failures": dict(sorted(self.failures.items())), "p50_s": self.percentile(0.5),
                "p90_s": self.percentile(0.9)}


@dataclass
class Cooling:
    provider: str
    until: float
    codes: list[str]

    def note(self) -> str:
        left = max(0, round(self.until - time.time()))
        return (f"'auto' skipped {self.provider}: its last {len(self.codes)} jobs failed on its side "
                f"({', '.join(sorted(set(self.codes)))}); it is tried again in {left} s.")


@dataclass
class Health:
    models: dict[tuple[str, str], ModelHealth]
    cooling: dict[str, Cooling]
    read_at: float

    def p50(self, provider: str, model: str) -> float | None:
        found = self.models.get((provider, model))
        return found.percentile(0.5) if found and len(found.latencies) >= MIN_SAMPLES else None

    def view(self) -> dict[str, Any]:
        providers: dict[str, dict[str, Any]] = {}
        for found in self.models.values():
            row = providers.setdefault(found.provider, {"succeeded": 0, "failed": 0, "models": []})
            row["succeeded"] += found.succeeded
            row["failed"] += found.failed
            row["models"].append(found.view())
        for name, row in providers.items():
            done = row["succeeded"] + row["failed"]
            row["success_rate"] = round(row["succeeded"] / done, 3) if done else None
            cool = self.cooling.get(name)
            row["cooling_down_until"] = round(cool.until) if cool else None
        return {"window_days": WINDOW_DAYS, "providers": dict(sorted(providers.items()))}


def measure(rows: list[dict[str, Any]], cooldown_s: float, now: float | None = None) -> Health:
    """Health from the ledger's finished generations (newest first, as the store returns them)."""
    now = time.time() if now is None else now
    models: dict[tuple[str, str], ModelHealth] = {}
    streaks: dict[str, list[tuple[str, float]]] = {}  # provider -> its newest provider-side failures
    broken: set[str] = set()  # providers whose streak a success (or a request error) ended
    for row in rows:
        for provider, model, status, code, at in _attempts(row):
            found = models.setdefault((provider, model), ModelHealth(provider, model))
            if status == "succeeded":
                found.succeeded += 1
                if row["finished_at"] and row["created_at"]:
                    found.latencies.append(max(0.0, float(row["finished_at"]) - float(row["created_at"])))
            elif status in ("failed", "unknown"):
                found.failed += 1
                found.failures[code or status] = found.failures.get(code or status, 0) + 1
            if provider in broken:
                continue
            if status == "failed" and (code or "") not in NOT_THE_PROVIDER:
                streaks.setdefault(provider, []).append((code or "failed", at))
                if len(streaks[provider]) >= COOL_AFTER:
                    broken.add(provider)
            elif status == "succeeded":
                broken.add(provider)
    cooling = {}
    for provider, streak in streaks.items():
        if len(streak) >= COOL_AFTER:
            until = streak[0][1] + cooldown_s  # counted from the newest failure
            if until > now:
                cooling[provider] = Cooling(provider, until, [code for code, _ in streak[:COOL_AFTER]])
    return Health(models, cooling, now)


def _attempts(row: dict[str, Any]) -> list[tuple[str, str, str, str | None, float]]:
    """The row's own outcome, then the attempts a fallback moved on from (older), newest first."""
    finished = float(row["finished_at"] or 0)
    found = [(row["provider"] or "", row["model"] or "", row["status"], row["error_code"], finished)]
    try:
        state = json.loads(row["state"] or "{}") if isinstance(row["state"], str) else (row["state"] or {})
    except ValueError:
        state = {}
    for attempt in reversed(state.get("attempts") or []):
        found.append((attempt.get("provider", ""), attempt.get("model", ""), "failed", attempt.get("error_code"),
                      float(attempt.get("at") or finished)))
    return found


def health(studio: Studio) -> Health:
    """The studio's current view of provider health (cached for `CACHE_S`)."""
    cached = studio.health_cache
    if isinstance(cached, Health) and time.time() - cached.read_at < CACHE_S:
        return cached
    rows = studio.store.generation_outcomes(time.time() - WINDOW_DAYS * 86400)
    fresh = measure(rows, studio.settings.health_cooldown_s)
    studio.health_cache = fresh
    return fresh
