"""`Prepared`: a checked, quoted job that does not exist yet. Every operation's `prepare` returns
one; `launch` turns it into a ledger row. Preparing has no side effects, so a call is prepared
once and the same object serves the approval question and the launch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reelforge.jobs.job import JobKind
from reelforge.studio.planning import GenerationPlan


@dataclass
class Prepared:
    kind: JobKind
    request: dict[str, Any]
    quote_usd: float
    #: How messages name the work ("This runway/gen4_turbo clip"), for budget and approval questions.
    what: str
    quote_detail: dict[str, Any] | None = None
    provider: str | None = None
    model: str | None = None
    parents: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    eta_s: float | None = None
    #: The job's first checkpoints (a generation's fallback plans).
    state: dict[str, Any] = field(default_factory=dict)
    #: The most the job may cost when that differs from the quote (the highest quote of a fallback
    #: chain: at most one attempt is charged); the budget is checked against it.
    budget_usd: float | None = None


def from_plan(kind: JobKind, plan: GenerationPlan, what: str, request: dict[str, Any], *,
              parents: list[str] | None = None, extra_eta: float = 0.0) -> Prepared:
    return Prepared(kind=kind, request=request, quote_usd=plan.quote.usd, what=what,
                    quote_detail=plan.quote.model_dump(mode="json"), provider=plan.model.provider,
                    model=plan.model.id, parents=parents or [], notes=list(plan.notes),
                    eta_s=plan.eta_s + extra_eta)
