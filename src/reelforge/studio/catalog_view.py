"""The catalog as rows a person or a calling model reads: each model's inputs, durations, price
(with its source and date) and whether it is ready here (key set, local weights present)."""

from __future__ import annotations

from typing import Any

from reelforge.catalog import Catalog
from reelforge.errors import InvalidRequest, ReelforgeError
from reelforge.providers.base import LocalProvider
from reelforge.providers.registry import make_provider, missing_credentials
from reelforge.settings import Settings


def _local_readiness(entry: Any, model: Any, settings: Settings) -> tuple[bool, str | None]:
    """A local model is ready when its backend says so (extra installed, weights present); cheap, no torch."""
    adapter = make_provider(entry.name, settings)
    if not isinstance(adapter, LocalProvider):
        return True, None
    try:
        adapter.check_available(model)
    except ReelforgeError as exc:
        return False, str(exc)
    return True, None


def model_rows(catalog: Catalog, settings: Settings, *, provider: str | None = None, input_kind: str | None = None,
               include_retired: bool = False, health: Any = None) -> list[dict[str, Any]]:
    """`health` (a `studio.health.Health`): each model's measured record, where it has one."""
    if provider is not None and provider not in catalog.providers:  # a typo is not "no models"
        raise InvalidRequest(f"Unknown provider '{provider}'. Known: {', '.join(sorted(catalog.providers))}.",
                             param="provider")
    kinds = sorted({k for m in catalog.models() for k in m.capabilities.inputs})
    if input_kind is not None and input_kind not in kinds:
        raise InvalidRequest(f"Unknown input kind '{input_kind}'. Known: {', '.join(kinds)}.", param="input")
    rows = []
    for entry in catalog.providers.values():
        if provider and entry.name != provider:
            continue
        missing = missing_credentials(entry.name, settings)
        keyed = missing is None
        for m in entry.models:
            if m.status == "retired" and not include_retired:
                continue
            if input_kind and input_kind not in m.capabilities.inputs:
                continue
            c = m.capabilities
            ready, needs = keyed, (None if missing is None else "set " + " and ".join(missing.env_vars))
            if entry.local:
                ready, needs = _local_readiness(entry, m, settings)
            rows.append({
                "provider": m.provider, "model": m.id, "title": m.title, "status": m.status,
                "replacement": m.replacement, "ready": ready, "needs": needs,
                "inputs": c.inputs, "durations": c.durations.describe(), "aspect_ratios": c.aspect_ratios,
                "resolutions": c.resolutions, "fps": c.fps, "audio": c.audio, "seed": c.seed, "loop": c.loop,
                "extend": c.extend, "camera_moves": c.camera_moves,
                "price": {"unit": m.price.unit, "usd": m.price.usd, "source": m.price.source,
                          "as_of": m.price.as_of.isoformat(), "estimate": m.price.estimate},
                "typical_seconds": m.typical_seconds, "quality": m.quality,
            })
            measured = health.models.get((m.provider, m.id)) if health is not None else None
            if measured is not None:
                rows[-1]["health"] = {k: v for k, v in measured.view().items() if k not in ("provider", "model")}
    return rows
