"""Every Together catalog row against the emulator: each model, aspect ratio, resolution, duration, fps and
input mode the catalog offers is either refused by the adapter's `normalize` (naming the parameter) or
accepted by the emulator, which validates like Together does. A combination that passed our checks and
was then refused by Together would cost the user a failed call; this test finds such rows."""

from __future__ import annotations

import itertools

import pytest
from provider_utils import installed, needs_providers

pytestmark = needs_providers("together")

from adapter_helpers import adapter_settings, file_ref, make_spec  # noqa: E402
from emulators.together import TogetherEmulator  # noqa: E402
from media_utils import make_image  # noqa: E402

from reelforge.errors import UnsupportedParameter  # noqa: E402
from reelforge.providers.registry import adapter_class, load_catalog  # noqa: E402


def combinations():
    if not installed("together"):
        return
    for model in load_catalog().providers["together"].models:
        caps = model.capabilities
        modes = [m for m in ("text", "image", "first_last") if m in caps.inputs]
        durations = caps.durations.choices or []
        first, default = (caps.aspect_ratios[0], caps.resolutions[0]), caps.durations.default
        # Ratio and resolution crossed (the pixel size depends on both); each other duration and fps once.
        rows = [(a, r, default, caps.fps[0]) for a, r in itertools.product(caps.aspect_ratios, caps.resolutions)]
        rows += [(*first, d, caps.fps[0]) for d in durations if d != default]
        rows += [(*first, default, f) for f in caps.fps[1:]]
        for mode, (aspect, resolution, seconds, fps) in itertools.product(modes, rows):
            yield pytest.param(model, mode, aspect, resolution, seconds, fps,
                               id=f"{model.id}-{mode}-{aspect}-{resolution}-{seconds:g}s-{fps}")


@pytest.fixture(scope="module")
def emu():
    with TogetherEmulator() as emulator:
        yield emulator


@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds", "fps"), list(combinations()))
async def test_together_rows(emu, tmp_path, model, mode, aspect, resolution, seconds, fps):
    provider = adapter_class("together")(adapter_settings(tmp_path, TOGETHER_API_KEY=emu.api_key,
                                                          TOGETHER_BASE_URL=emu.url))
    image = file_ref(make_image(tmp_path / "a.png"))
    inputs = {"text": {}, "image": {"first_frame": image}, "first_last": {"first_frame": image, "last_frame": image}}
    spec = make_spec(model.provider, model.id, aspect_ratio=aspect, resolution=resolution, duration_s=seconds, fps=fps,
                     prompt="" if not model.capabilities.prompt_required and mode != "text" else "a kite",
                     **inputs[mode])
    try:
        spec, _ = provider.normalize(spec, model)
    except UnsupportedParameter as exc:  # pragma: no cover - no Together row is refused today
        pytest.fail(f"the catalog offers a combination normalize refuses: {exc} ({exc.param})")
    before = emu.count("create")
    await provider.submit(spec, model)  # raises if the emulator (the contract) says no
    assert emu.count("create") == before + 1


def test_every_row_is_covered():
    rows = list(combinations())
    assert len({p.values[0].id for p in rows}) == len(load_catalog().providers["together"].models)
