"""Every Runway and Luma catalog combination the adapter accepts is accepted by the provider's contract.

For each model, aspect ratio, resolution and input mode the catalog offers: either the adapter's
`normalize` refuses it up front (naming the parameter), or the emulator, which validates like the
provider, accepts the create request. A combination that passes our checks and is then refused by
the provider would cost the user a failed call; this test finds such rows.
"""

from __future__ import annotations

import itertools

import pytest
from adapter_helpers import adapter_settings, file_ref, make_spec
from emulators.luma import LumaEmulator
from emulators.runway import RunwayEmulator
from media_utils import make_clip, make_image

from reelforge.providers.registry import load_catalog
from reelforge.errors import UnsupportedParameter
from reelforge.providers.luma.adapter import LumaProvider
from reelforge.providers.runway.adapter import RunwayProvider
from reelforge.generation_spec import MediaRef

URL_IMAGE = MediaRef(kind="url", url="https://images.example.com/a.png", mime="image/png")


def combinations(provider: str):
    for model in load_catalog().providers[provider].models:
        caps = model.capabilities
        modes = [m for m in ("text", "image") if m in caps.inputs] or ["video"]
        durations = caps.durations.choices or [caps.durations.min, caps.durations.max]
        # Ratio and resolution crossed (Runway's pixel ratios depend on both); each duration once.
        rows = [(a, r, caps.durations.default) for a, r in itertools.product(caps.aspect_ratios, caps.resolutions)]
        rows += [(caps.aspect_ratios[0], caps.resolutions[0], d) for d in durations if d != caps.durations.default]
        for mode, (aspect, resolution, seconds) in itertools.product(modes, rows):
            yield pytest.param(model, mode, aspect, resolution, seconds, id=f"{model.id}-{mode}-{aspect}-{resolution}-{seconds:g}")


async def accepted_or_refused(provider, emu, model, mode, aspect, resolution, seconds, image) -> str:
    inputs = {"image": {"first_frame": image}, "video": {"video": image}, "text": {}}[mode]
    spec = make_spec(model.provider, model.id, aspect_ratio=aspect, resolution=resolution, duration_s=seconds, **inputs)
    try:
        provider.normalize(spec, model)
    except UnsupportedParameter as exc:
        assert exc.param, exc
        return "refused"
    await provider.submit(spec, model)  # raises if the emulator (the contract) says no
    return "accepted"


@pytest.fixture(scope="module")
def runway_emu():
    with RunwayEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def luma_emu():
    with LumaEmulator() as emu:
        yield emu


@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds"), list(combinations("runway")))
async def test_runway_rows(runway_emu, tmp_path, model, mode, aspect, resolution, seconds):
    provider = RunwayProvider(adapter_settings(tmp_path, RUNWAYML_API_SECRET=runway_emu.api_key, RUNWAYML_BASE_URL=runway_emu.url))
    ref = None
    if mode == "image":
        ref = file_ref(make_image(tmp_path / "a.png"))
    elif mode == "video":
        ref = file_ref(make_clip(tmp_path / "a.mp4", seconds=0.5, audio=False), "video/mp4")
    outcome = await accepted_or_refused(provider, runway_emu, model, mode, aspect, resolution, seconds, ref)
    # Text-to-video refusals are only the ratios Runway keeps for image input.
    if outcome == "refused":
        assert mode == "text" and aspect not in ("16:9", "9:16")


@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds"), list(combinations("luma")))
async def test_luma_rows(luma_emu, tmp_path, model, mode, aspect, resolution, seconds):
    provider = LumaProvider(adapter_settings(
        tmp_path, LUMAAI_API_KEY=luma_emu.api_key, LUMAAI_BASE_URL=luma_emu.dream_machine_url,
        LUMA_AGENTS_BASE_URL=luma_emu.agents_url,
    ))  # fmt: skip
    image = URL_IMAGE if model.facts.api == "dream_machine" else file_ref(make_image(tmp_path / "a.png"))
    outcome = await accepted_or_refused(provider, luma_emu, model, mode, aspect, resolution, seconds, image)
    assert outcome == "accepted"
