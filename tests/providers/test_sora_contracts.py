"""Every Sora catalog combination is either refused up front by `normalize` (naming the parameter) or
accepted by the emulator, which validates like the Videos API (model sizes, string seconds, a
reference image exactly at `size`). A combination that passed our checks and were then refused by
OpenAI would cost the user a failed call; this finds such rows. Mirrors test_catalog_contracts.py.
"""

from __future__ import annotations

import itertools

import pytest
from provider_utils import installed, require_provider

require_provider("sora")
from adapter_helpers import adapter_settings, file_ref, make_spec
from emulators.sora import SoraEmulator
from media_utils import make_image

from reelforge.errors import UnsupportedParameter
from reelforge.generation_spec import MediaRef
from reelforge.providers.registry import adapter_class, load_catalog

URL_IMAGE = MediaRef(kind="url", url="https://images.example.com/a.png", mime="image/png")


def combinations():
    if not installed("sora"):
        return
    for model in load_catalog().providers["sora"].models:
        caps = model.capabilities
        modes = [m for m in ("text", "image", "url") if m in (*caps.inputs, "url")]
        rows = [(a, r, d) for a, r, d in itertools.product(caps.aspect_ratios, caps.resolutions, caps.durations.choices)]
        for mode, (aspect, resolution, seconds) in itertools.product(modes, rows):
            yield pytest.param(model, mode, aspect, resolution, seconds,
                               id=f"{model.id}-{mode}-{aspect}-{resolution}-{seconds:g}")


@pytest.fixture(scope="module")
def emu():
    with SoraEmulator() as emulator:
        yield emulator


@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds"), list(combinations()))
async def test_sora_rows(emu, tmp_path, model, mode, aspect, resolution, seconds):
    provider = adapter_class("sora")(adapter_settings(tmp_path, OPENAI_API_KEY=emu.api_key, OPENAI_BASE_URL=emu.url + "/v1"))
    # An image of an awkward size: the adapter must conform it, or OpenAI refuses the reference.
    first = {"text": None, "url": URL_IMAGE, "image": file_ref(make_image(tmp_path / "a.png", (333, 250)))}[mode]
    spec = make_spec("sora", model.id, aspect_ratio=aspect, resolution=resolution, duration_s=seconds, first_frame=first)
    try:
        spec, _ = provider.normalize(spec, model)
    except UnsupportedParameter as exc:  # pragma: no cover - every row the catalog offers is sendable
        pytest.fail(f"catalog offers a combination normalize refuses: {exc} (param {exc.param})")
    before = emu.count("create")
    await provider.submit(spec, model)  # raises if the emulator (the contract) says no
    assert emu.count("create") == before + 1


def test_sizes_outside_the_catalog_are_refused_naming_the_parameter(tmp_path):
    provider = adapter_class("sora")(adapter_settings(tmp_path))
    for model in load_catalog().providers["sora"].models:
        for resolution in ("480p", "1080p", *(["1024p"] if "1024p" not in model.capabilities.resolutions else [])):
            with pytest.raises(UnsupportedParameter) as info:
                provider.normalize(make_spec("sora", model.id, resolution=resolution), model)
            assert info.value.param == "aspect_ratio"
