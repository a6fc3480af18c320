"""Every Veo catalog combination (model x input mode x aspect ratio x resolution x duration) is either
refused up front by the adapter's `normalize`, naming the parameter, or accepted by the Gemini API
emulator, which validates like Google does. A combination that passed our checks and was then refused
by the provider would cost the user a failed call."""

from __future__ import annotations

import itertools

import pytest
from provider_utils import require_provider

require_provider("veo")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec
from emulators.veo import VeoEmulator
from media_utils import make_image

from reelforge.errors import UnsupportedParameter
from reelforge.providers.registry import load_catalog
from reelforge.providers.veo.adapter import VeoProvider

MODELS = load_catalog().providers["veo"].models


@pytest.fixture(scope="module")
def emu():
    with VeoEmulator() as emulator:
        yield emulator


def _modes(model, image, references):
    modes = {"text": {}, "image": {"first_frame": image}, "first_last": {"first_frame": image, "last_frame": image},
             "reference": {"extra": {"reference_images": references}}}
    return {m: modes[m] for m in model.capabilities.inputs}


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS, ids=[m.id for m in MODELS])
async def test_every_combination_is_refused_up_front_or_accepted(emu, tmp_path, model):
    provider = VeoProvider(adapter_settings(tmp_path, GEMINI_API_KEY=emu.api_key, GOOGLE_GEMINI_BASE_URL=emu.url))
    image = file_ref(make_image(tmp_path / "a.png"))
    references = [str(make_image(tmp_path / f"r{i}.png")) for i in range(2)]
    caps = model.capabilities
    durations = caps.durations.choices or sorted({caps.durations.min, caps.durations.default, caps.durations.max})
    outcomes: dict[str, int] = {"refused": 0, "accepted": 0}
    for (mode, inputs), aspect, resolution, seconds in itertools.product(
            _modes(model, image, references).items(), caps.aspect_ratios, caps.resolutions, durations):
        spec = make_spec("veo", model.id, aspect_ratio=aspect, resolution=resolution, duration_s=seconds, **inputs)
        try:
            spec, _ = provider.normalize(spec, model)
        except UnsupportedParameter as exc:
            assert exc.param, exc
            outcomes["refused"] += 1
            continue
        before = emu.count("create")
        await provider.submit(spec, model)  # raises if the emulated contract says no
        assert emu.count("create") == before + 1, (mode, aspect, resolution, seconds)
        outcomes["accepted"] += 1
    assert outcomes["accepted"], outcomes
