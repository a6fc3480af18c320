"""Every Hugging Face catalog combination is refused up front (naming the parameter) or accepted by
the router emulator, which validates each provider model's inputs like the provider does.

A row that passes our checks and is then refused by the provider would cost the user a failed call.
"""

from __future__ import annotations

import itertools

import pytest
from provider_utils import require_provider

require_provider("huggingface")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, make_spec
from emulators.huggingface import SCHEMAS, TOKEN, HuggingFaceEmulator

from reelforge.errors import UnsupportedParameter
from reelforge.providers.huggingface.adapter import HuggingFaceProvider
from reelforge.providers.registry import load_catalog

MODELS = load_catalog().providers["huggingface"].models


def combinations():
    for model in MODELS:
        caps = model.capabilities
        rule = caps.durations
        durations = rule.choices or [rule.min + k * (rule.step or 1)  # type: ignore[operator]
                                     for k in range(int((rule.max - rule.min) / (rule.step or 1)) + 1)]  # type: ignore[operator]
        for aspect, resolution, seconds, fps in itertools.product(caps.aspect_ratios, caps.resolutions, durations,
                                                                  caps.fps):
            yield pytest.param(model, aspect, resolution, seconds, fps,
                               id=f"{model.id}-{aspect}-{resolution}-{seconds:g}s-{fps}")


@pytest.fixture(scope="module")
def emu():
    with HuggingFaceEmulator() as emulator:
        yield emulator


@pytest.mark.parametrize(("model", "aspect", "resolution", "seconds", "fps"), list(combinations()))
async def test_every_row_is_accepted_or_refused_up_front(emu, tmp_path, model, aspect, resolution, seconds, fps):
    provider = HuggingFaceProvider(adapter_settings(tmp_path, HF_TOKEN=TOKEN, HF_ROUTER_URL=emu.url))
    fields = {"seed": 11} if model.capabilities.seed else {}
    if model.capabilities.negative_prompt:
        fields["negative_prompt"] = "blurry"
    spec = make_spec("huggingface", model.id, aspect_ratio=aspect, resolution=resolution, duration_s=seconds, fps=fps,
                     **fields)
    try:
        provider.normalize(spec, model)
    except UnsupportedParameter as exc:  # pragma: no cover - no row is refused today
        assert exc.param, exc
        return
    assert await provider.submit(spec, model)  # raises if the emulator (the contract) says no


def test_every_provider_model_has_an_emulated_schema():
    assert {m.facts.provider_model for m in MODELS} <= set(SCHEMAS)  # type: ignore[union-attr]
