"""Provider name → adapter class, imported lazily so server start stays light.

Adding a provider: one module implementing `LocalProvider` or `RemoteProvider`, one catalog file
in `reelforge/catalog/data/`, one row here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from reelforge.errors import InvalidRequest

if TYPE_CHECKING:
    import httpx

    from reelforge.providers.base import Provider
    from reelforge.settings import Settings

ADAPTERS: dict[str, str] = {
    "preview": "reelforge.providers.preview:PreviewProvider",
    "local": "reelforge.providers.local.provider:LocalDiffusersProvider",
    "runway": "reelforge.providers.runway:RunwayProvider",
    "luma": "reelforge.providers.luma:LumaProvider",
    "minimax": "reelforge.providers.minimax:MiniMaxProvider",
    "replicate": "reelforge.providers.replicate:ReplicateProvider",
}


def adapter_class(name: str) -> type[Provider]:
    target = ADAPTERS.get(name)
    if target is None:
        known = ", ".join(sorted(ADAPTERS))
        raise InvalidRequest(f"Unknown provider '{name}'. Known providers: {known}.", param="provider")
    module_name, _, cls_name = target.partition(":")
    return getattr(importlib.import_module(module_name), cls_name)


def make_provider(name: str, settings: Settings, http: httpx.AsyncClient | None = None) -> Provider:
    return adapter_class(name)(settings, http)
