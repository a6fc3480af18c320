"""Tests that need a provider package skip cleanly when it is deleted: the registry finds what is there.

`.ci/without-provider NAME` runs the fast lane with one package removed to prove it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reelforge.providers.registry import provider_names
from reelforge.settings import Settings


def installed(name: str) -> bool:
    return name in provider_names()


def needs_providers(*names: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, as `pytestmark`) to skip unless every named provider is installed."""
    missing = [n for n in names if not installed(n)]
    return pytest.mark.skipif(bool(missing), reason=f"provider package {', '.join(missing)} is not installed")


def require_provider(name: str) -> None:
    """Skip the whole module unless `name` is installed; call it before importing the provider's adapter."""
    if not installed(name):
        pytest.skip(f"provider package {name} is not installed", allow_module_level=True)


@pytest.fixture(name="emus")
def runway_and_luma() -> Iterator[tuple[object, object]]:
    """The Runway and Luma emulators, for tests that route or fall back between two providers
    (import it into the test module; the fixture is named `emus`)."""
    from emulators.luma import LumaEmulator
    from emulators.runway import RunwayEmulator

    with RunwayEmulator() as runway, LumaEmulator() as luma:
        yield runway, luma


def keyed_for_runway_and_luma(settings: Settings, emus: tuple[object, object], poll_s: tuple[float, float]) -> Settings:
    """`settings` holding both emulators' keys and addresses, no confirmation below $100, fast polls."""
    runway, luma = emus
    return settings.with_provider_env(
        RUNWAYML_API_SECRET=runway.api_key, RUNWAYML_BASE_URL=runway.url, LUMAAI_API_KEY=luma.api_key,  # type: ignore[attr-defined]
        LUMAAI_BASE_URL=luma.dream_machine_url, LUMA_AGENTS_BASE_URL=luma.agents_url).model_copy(update={  # type: ignore[attr-defined]
            "confirm_above_usd": 100.0, "poll_min_interval_s": poll_s[0], "poll_max_interval_s": poll_s[1]})
