"""Tests that need a provider package skip cleanly when it is deleted: the registry finds what is there.

`.ci/without-provider NAME` runs the fast lane with one package removed to prove it.
"""

from __future__ import annotations

import pytest

from reelforge.providers.registry import provider_names


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
