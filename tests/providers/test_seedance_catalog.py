"""Every Seedance catalog combination is either refused up front by `normalize` (naming the
parameter) or accepted by the emulator, which validates like Ark: no row passes our checks only to
be refused (a failed call) at the provider."""

from __future__ import annotations

import pytest
from provider_utils import require_provider

require_provider("seedance")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref
from emulators.seedance import SeedanceEmulator
from media_utils import make_image
from test_catalog_contracts import accepted_or_refused, combinations

from reelforge.providers.registry import adapter_class

ROWS = list(combinations("seedance"))


@pytest.fixture(scope="module")
def emu():
    with SeedanceEmulator() as emulator:
        yield emulator


def test_every_model_has_rows():
    assert {row.values[0].id for row in ROWS} == {"seedance-2.0", "seedance-2.0-fast", "seedance-2.5"}


@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds"), ROWS)
async def test_seedance_rows(emu, tmp_path, model, mode, aspect, resolution, seconds):
    provider = adapter_class("seedance")(adapter_settings(tmp_path, ARK_API_KEY=emu.api_key, ARK_BASE_URL=emu.base_url))
    image = file_ref(make_image(tmp_path / "a.png")) if mode == "image" else None
    before = emu.count("create")
    assert await accepted_or_refused(provider, emu, model, mode, aspect, resolution, seconds, image) == "accepted"
    body = emu.requests_to("create")[before].json
    assert body["ratio"] == aspect and body["resolution"] == resolution and body["duration"] == int(seconds)
