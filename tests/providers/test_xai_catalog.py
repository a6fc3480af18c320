"""Every xAI catalog combination (model x input mode x aspect ratio x resolution, and each duration
edge) is either refused up front by the adapter's `normalize`, naming the parameter, or accepted by
the emulator, which validates like xAI does. A row that passes our checks and is then refused by xAI
would cost the caller a failed call; this finds such rows."""

from __future__ import annotations

import itertools

import pytest
from provider_utils import installed, require_provider

require_provider("xai")
from adapter_helpers import adapter_settings, file_ref, make_spec
from emulators.xai import XaiEmulator
from media_utils import make_image

from reelforge.errors import UnsupportedParameter
from reelforge.providers.registry import adapter_class, load_catalog

MODES = ("text", "image", "first_last", "reference")


def combinations():
    if not installed("xai"):
        return
    for model in load_catalog().providers["xai"].models:
        caps = model.capabilities
        rows = [(a, r, caps.durations.default) for a, r in itertools.product(caps.aspect_ratios, caps.resolutions)]
        rows += [(caps.aspect_ratios[0], caps.resolutions[0], d) for d in (caps.durations.min, caps.durations.max)]
        for mode, (aspect, resolution, seconds) in itertools.product(MODES, rows):
            if mode in caps.inputs:
                yield pytest.param(model, mode, aspect, resolution, seconds,
                                   id=f"{model.id}-{mode}-{aspect}-{resolution}-{seconds:g}")


@pytest.fixture(scope="module")
def emu():
    with XaiEmulator() as emulator:
        yield emulator


@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds"), list(combinations()))
async def test_xai_rows(emu, tmp_path, model, mode, aspect, resolution, seconds):
    provider = adapter_class("xai")(adapter_settings(tmp_path, XAI_API_KEY=emu.api_key, XAI_BASE_URL=emu.url + "/v1"))
    image = file_ref(make_image(tmp_path / "a.png"))
    inputs = {"text": {}, "image": {"first_frame": image}, "first_last": {"first_frame": image, "last_frame": image},
              "reference": {"extra": {"reference_images": [image.path]}}}[mode]
    spec = make_spec("xai", model.id, aspect_ratio=aspect, resolution=resolution, duration_s=seconds, **inputs)
    try:
        spec, _ = provider.normalize(spec, model)
    except UnsupportedParameter as exc:
        # The only refusals: 1.5 makes nothing from text alone; reference clips stop at 10 s.
        assert (exc.param, mode) in (("image", "text"), ("duration_s", "reference")), exc
        return
    await provider.submit(spec, model)  # raises if the emulator (the contract) says no


@pytest.mark.parametrize("seconds", [2, 10])
async def test_extension_edges_are_accepted(emu, tmp_path, seconds):
    provider = adapter_class("xai")(adapter_settings(tmp_path, XAI_API_KEY=emu.api_key, XAI_BASE_URL=emu.url + "/v1"))
    model = load_catalog().find("xai", "grok-imagine-video")
    assert model is not None
    source_id = await provider.submit(make_spec("xai", model.id, duration_s=6), model)
    while not (await provider.poll(source_id, model)).state.terminal:
        pass
    spec, _ = provider.normalize(make_spec("xai", model.id, duration_s=seconds, continue_remote_id=source_id), model)
    await provider.submit(spec, model)
