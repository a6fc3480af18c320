"""Planning one generation: route to a provider and model, check the request against the catalog,
let the adapter snap it to the model's exact rules, and quote it. No side effects: a plan can be
made, shown and thrown away (estimates, approvals), and a refused plan has cost nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from reelforge.catalog import ModelEntry
from reelforge.errors import InvalidRequest, UnsupportedParameter, validation_text
from reelforge.generation_spec import GenerationSpec, MediaRef
from reelforge.providers.base import LocalProvider
from reelforge.providers.registry import missing_credentials
from reelforge.studio import characters
from reelforge.studio.caller import current_user
from reelforge.studio.catalog_check import build_spec, input_kinds, resolve_model
from reelforge.studio.clip_sources import resolve_image
from reelforge.studio.health import health
from reelforge.studio.policies import Routed, route, why
from reelforge.studio.pricing import Quote, quote
from reelforge.studio.tier_access import check_model_allowed
from reelforge.studio.routing import choose_provider, default_model_for
from reelforge.studio.tool_schemas import GenerationOptions

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


@dataclass
class GenerationPlan:
    """A checked, quoted generation, ready to become a job row (or a step of one)."""

    spec: GenerationSpec
    model: ModelEntry
    quote: Quote
    notes: list[str] = field(default_factory=list)
    #: Rendered on this machine (preview, the local GPU): its time grows with the pixels.
    renders_here: bool = False
    #: How a routing policy chose this plan among the candidates (None: named, or the preference order).
    routed: Routed | None = None

    @property
    def eta_s(self) -> float:
        """Honest first guess: the model's typical time scaled by length (and, for renders on this
        machine, by pixels). Replaced by the observed rate once progress is reported."""
        scale = self.spec.duration_s / max(self.model.capabilities.durations.default, 0.1)
        if self.renders_here:
            scale *= (self.spec.width * self.spec.height) / (1280 * 720)
        return round(self.model.typical_seconds * max(scale, 0.2), 1)

    def to_state(self) -> dict[str, Any]:
        """The stored form of a step: what the step job will be created from, exactly as quoted."""
        return {"spec": self.spec.model_dump(mode="json"), "quote": self.quote.model_dump(mode="json"), "notes": self.notes}

    @classmethod
    def from_state(cls, studio: Studio, step: dict[str, Any]) -> GenerationPlan:
        spec = GenerationSpec.model_validate(step["spec"])
        model = studio.catalog.find(spec.provider, spec.model)
        if model is None:
            raise InvalidRequest(f"Model {spec.provider}/{spec.model} is no longer in the catalog.")
        return cls(spec, model, Quote.model_validate(step["quote"]), list(step.get("notes", [])),
                   studio.catalog.providers[spec.provider].local)


def plan(studio: Studio, opts: GenerationOptions, *, first: MediaRef | None = None, last: MediaRef | None = None,
         video: MediaRef | None = None, loop: bool = False, continue_remote_id: str | None = None,
         direction: str = "forward", provider: str | None = None) -> GenerationPlan:
    policy = getattr(opts, "route", None) or studio.settings.route
    for name in characters.wanted(opts):  # an unknown name is refused once, before any routing
        characters.get(studio.settings, name)
    if provider is None and opts.provider == "auto" and opts.model is None and policy != "preference":
        def plan_one(name: str, model: str) -> GenerationPlan:
            return plan(studio, opts.model_copy(update={"provider": name, "model": model or None}), first=first,
                        last=last, video=video, loop=loop, continue_remote_id=continue_remote_id,
                        direction=direction, provider=name)

        routed = route(studio, policy, plan_one)
        if not routed.ranked:
            reasons = "; ".join(f"{key}: {reason}" for key, reason in routed.excluded[:6])
            raise InvalidRequest(f"No model can serve this request under route={policy}. {reasons}",
                                 param="route", hint="Call estimate_cost with compare=true to see every reason.")
        chosen = routed.ranked[0].plan
        chosen.notes = [*chosen.notes, why(routed)]
        chosen.routed = routed
        return chosen
    kinds = input_kinds(first, last, video if continue_remote_id is None else None, characters.has_references(opts))
    notes: list[str] = []
    cooling = {name: c.note() for name, c in health(studio).cooling.items()} if opts.provider == "auto" else {}
    name = provider or choose_provider(studio.catalog, studio.settings, opts.provider, kinds, cooling, notes)
    entry = studio.catalog.providers[name]
    if opts.model is None and all(m.status == "retired" for m in entry.models):
        opts = opts.model_copy(update={"model": entry.models[0].id})  # a retired provider: its redirect
    if opts.model is None:
        model = default_model_for(entry, kinds)
        if model is None:
            accepted = sorted({k for m in entry.models for k in m.capabilities.inputs})
            raise UnsupportedParameter(
                f"No {name} model accepts {', '.join(kinds)} input; {name} models accept: {', '.join(accepted)}.",
                param="video" if "video" in kinds else "provider",
                hint="Pick another provider or model with list_models.")
        if model.status == "deprecated":  # said, as when it is asked for by name
            model, notes = resolve_model(studio.catalog, name, model.id)
    else:
        model, notes = resolve_model(studio.catalog, name, opts.model)
        if model.provider != name:  # redirected to another provider (a retired API): it runs the job
            name, entry = model.provider, studio.catalog.providers[model.provider]
    user = current_user()
    check_model_allowed(studio, user, name, model.id)
    missing = missing_credentials(name, studio.settings_for(user))
    if missing is not None:
        raise missing
    opts, cast = characters.cast_onto(studio.settings, opts, model)
    notes += cast
    spec = build_spec(opts, model, renders_here=entry.local, first_frame=first, last_frame=last, video=video,
                      loop=loop, continue_remote_id=continue_remote_id, continue_direction=direction, notes=notes)
    adapter = studio.provider(name, user)
    spec, snapped = adapter.normalize(spec, model)
    if isinstance(adapter, LocalProvider):
        adapter.check_available(model)
    return GenerationPlan(spec, model, quote(spec, model), notes + snapped, entry.local)


def plan_inline(studio: Studio, data: dict[str, Any], where: str) -> GenerationPlan:
    """Plan an inline generation request (a compose clip): GenerationOptions plus image/last_image."""
    raw = dict(data)
    image, last = raw.pop("image", None), raw.pop("last_image", None)
    try:
        opts = GenerationOptions.model_validate(raw)
    except ValidationError as exc:  # field by field, named from the timeline down (no pydantic dump)
        raise InvalidRequest(f"{validation_text(exc, prefix=f'{where}.generate')}.", param=f"{where}.generate",
                             hint="Fix these fields of the inline generation and call again.") from None
    return plan(studio, opts, first=resolve_image(studio, image, f"{where}.generate.image"),
                last=resolve_image(studio, last, f"{where}.generate.last_image"))
