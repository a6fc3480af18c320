"""The providers that are here: discovered from their packages, never listed by hand.

A provider is a package under `reelforge/providers/` whose `__init__` defines `DECLARATION`
(`reelforge.providers.declaration.Declaration`). Everything else is derived from those declarations:
the catalog (each package's `catalog.json`, facts validated with the provider's own model), the
adapter class (imported only on first use, so server start stays light), credential checks, and
the 'auto' routing order. Deleting a provider's package removes it everywhere.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from reelforge.catalog import Catalog, ModelEntry, ProviderEntry
from reelforge.errors import InvalidRequest, MissingCredentials
from reelforge.providers.declaration import Declaration

if TYPE_CHECKING:
    import httpx

    from reelforge.providers.base import Provider
    from reelforge.settings import Settings

#: The file each provider package ships its models in.
CATALOG_FILE = "catalog.json"


@lru_cache(maxsize=1)
def declarations() -> dict[str, Declaration]:
    """Every provider package's declaration, by name (sorted, so the order is stable)."""
    import reelforge.providers as package

    found: dict[str, Declaration] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        declaration = getattr(module, "DECLARATION", None)
        if not isinstance(declaration, Declaration):
            continue
        if declaration.name != info.name:
            raise ValueError(f"providers/{info.name} declares the name {declaration.name!r}; they must match")
        found[declaration.name] = declaration
    return found


def provider_names() -> tuple[str, ...]:
    return tuple(declarations())


def declaration(name: str) -> Declaration:
    found = declarations().get(name)
    if found is None:
        known = ", ".join(sorted(declarations()))
        raise InvalidRequest(f"Unknown provider '{name}'. Known providers: {known}.", param="provider")
    return found


def routing_preference() -> tuple[str, ...]:
    """Providers 'auto' tries, in order; the last is the keyless last resort."""
    ranked = [d for d in declarations().values() if d.auto_rank is not None]
    return tuple(d.name for d in sorted(ranked, key=lambda d: (d.auto_rank, d.name)))


def missing_credentials(name: str, settings: Settings) -> MissingCredentials | None:
    """None when the provider can be used (keyless, or its required variables set); else the error
    naming every variable still to set."""
    decl = declaration(name)
    missing = [v.name for v in decl.required if settings.provider_value(v.name) is None
               and (v.alternative is None or settings.provider_value(v.alternative) is None)]
    if not missing:
        return None
    return MissingCredentials(decl.title, tuple(missing))


def rate_limit_defaults(catalog: Catalog, settings: Settings) -> dict[str, tuple[int, float]]:
    """Each model's own `requests_per_minute`, as 'provider/model' -> (count, 60 s), for providers
    whose server key is set: the account that limit belongs to. (A tiers user's own key is another
    account, with its own limit, which the provider enforces with a 429.)"""
    return {m.key: (m.requests_per_minute, 60.0) for m in catalog.models()
            if m.requests_per_minute and m.status != "retired" and missing_credentials(m.provider, settings) is None}


def adapter_class(name: str) -> type[Provider]:
    module_name, _, class_name = declaration(name).adapter.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_provider(name: str, settings: Settings, http: httpx.AsyncClient | None = None) -> Provider:
    return adapter_class(name)(settings, http)


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Every provider package's `catalog.json`, validated, facts typed (cached)."""
    return Catalog(providers={name: _provider_entry(decl) for name, decl in declarations().items()})


def _provider_entry(decl: Declaration) -> ProviderEntry:
    path = f"reelforge/providers/{decl.name}/{CATALOG_FILE}"
    data = json.loads(resources.files(f"reelforge.providers.{decl.name}").joinpath(CATALOG_FILE).read_text("utf-8"))
    models = [_model_entry(decl, raw, path) for raw in data.pop("models", [])]
    try:
        return ProviderEntry(name=decl.name, title=decl.title, local=decl.local, models=models, **data)
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _model_entry(decl: Declaration, raw: dict[str, Any], path: str) -> ModelEntry:
    """One model row; its `facts` validated with the provider's own model (errors name file, model, field)."""
    raw = dict(raw)
    model_id = raw.get("id", "?")
    facts = raw.pop("facts", None) or None
    if facts is not None and decl.facts is None:
        raise ValueError(f"{path}: model {model_id}: facts given, but {decl.name} declares no facts model")
    try:
        if facts is not None:
            assert decl.facts is not None
            facts = decl.facts.model_validate(facts)
    except ValidationError as exc:
        raise ValueError(f"{path}: model {model_id}: {_fields(exc, 'facts')}") from None
    try:
        return ModelEntry.model_validate({**raw, "facts": facts})
    except ValidationError as exc:
        raise ValueError(f"{path}: model {model_id}: {_fields(exc)}") from None


def _fields(exc: ValidationError, prefix: str = "") -> str:
    """Each failing field by its path ("facts.frames.min: ...")."""
    return "; ".join(
        f"{'.'.join([prefix, *map(str, e['loc'])] if prefix else map(str, e['loc'])) or '(row)'}: {e['msg']}"
        for e in exc.errors()
    )
