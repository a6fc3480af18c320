"""'auto' routing: which provider and model serve a request, and which ones could.

Policy `preference` (the default; the others are in `policies.py`): the configured default
provider; else the first provider whose credentials are set and which is not cooling down after
repeated failures, in the order the provider declarations give (`routing_preference`), the last
being the keyless last resort (the free offline `preview`). Only models whose catalog entry accepts
the request's inputs are eligible, so routing never picks a model that would refuse the call.
"""

from __future__ import annotations

from collections.abc import Mapping

from reelforge.catalog import Catalog, ModelEntry, ProviderEntry
from reelforge.errors import InvalidRequest
from reelforge.providers.registry import missing_credentials, routing_preference
from reelforge.settings import Settings


def provider_ready(entry: ProviderEntry, settings: Settings) -> bool:
    """Keyless providers are ready; keyed ones need their declared variables set."""
    return missing_credentials(entry.name, settings) is None


def accepts_inputs(model: ModelEntry, kinds: list[str]) -> bool:
    return model.status != "retired" and all(k in model.capabilities.inputs for k in kinds)


def choose_provider(catalog: Catalog, settings: Settings, requested: str, kinds: list[str],
                    cooling: Mapping[str, str] | None = None, skipped: list[str] | None = None) -> str:
    """`cooling`: providers 'auto' passes over for now (name -> why); each one passed is added to `skipped`."""
    if requested != "auto":
        if requested not in catalog.providers:
            known = ", ".join(sorted(catalog.providers))
            raise InvalidRequest(f"Unknown provider '{requested}'. Known: {known}.", param="provider")
        return requested
    if settings.default_provider and settings.default_provider in catalog.providers:
        return settings.default_provider
    order = routing_preference()
    for name in order:
        entry = catalog.providers.get(name)
        if entry and provider_ready(entry, settings) and any(accepts_inputs(m, kinds) for m in entry.models):
            if cooling and name in cooling and name != order[-1]:
                if skipped is not None:
                    skipped.append(cooling[name])
                continue
            return name
    if not order:
        raise InvalidRequest("No provider is installed for 'auto' routing; name one.", param="provider")
    return order[-1]  # the keyless last resort: its refusal names what it accepts


def default_model_for(entry: ProviderEntry, kinds: list[str]) -> ModelEntry | None:
    """The provider's first current model that accepts these inputs; else its first deprecated one (a
    provider whose every model is deprecated, such as Sora, still works when asked for by name)."""
    fitting = [m for m in entry.models if m.status != "retired" and accepts_inputs(m, kinds)]
    return next((m for m in fitting if m.status in ("ga", "preview")), fitting[0] if fitting else None)
