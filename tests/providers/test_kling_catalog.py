"""Every combination a Kling catalog row offers (model x input mode x aspect x resolution x duration,
plus each model's end frame, camera moves and sound) is either refused up front by the adapter's
`normalize`, naming the parameter, or accepted by the emulator, which holds Kling's published
per-model, per-mode, per-duration feature matrix. Nothing our checks pass may be refused by Kling.
"""

from __future__ import annotations

import itertools

import pytest
from provider_utils import installed, require_provider

require_provider("kling")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec
from emulators.kling import ACCESS_KEY, SECRET_KEY, KlingEmulator
from media_utils import make_image

from reelforge.errors import UnsupportedParameter
from reelforge.providers.kling.adapter import KlingProvider
from reelforge.providers.registry import load_catalog


def combinations():
    if not installed("kling"):
        return
    for model in load_catalog().providers["kling"].models:
        caps = model.capabilities
        durations = caps.durations.choices or [caps.durations.min, caps.durations.max]
        # Aspect and resolution crossed at the default duration; every other duration once per resolution.
        rows = [(a, r, caps.durations.default) for a, r in itertools.product(caps.aspect_ratios, caps.resolutions)]
        rows += [(caps.aspect_ratios[0], r, d) for r in caps.resolutions for d in durations
                 if d != caps.durations.default]
        modes = [m for m in ("text", "image", "first_last") if m in caps.inputs]
        for mode, (aspect, res, seconds) in itertools.product(modes, rows):
            extras = [{}] + [{"audio": True}] * caps.audio + [{"camera_move": m} for m in caps.camera_moves[:3]]
            for extra in extras:
                name = "-".join(f"{k}={v}" for k, v in extra.items())
                yield pytest.param(model, mode, aspect, res, seconds, extra,
                                   id=f"{model.id}-{mode}-{aspect}-{res}-{seconds:g}-{name}")


@pytest.fixture(scope="module")
def emu():
    with KlingEmulator() as emulator:
        emulator.max_concurrency = emulator.units = 10**9  # every row is submitted, none polled
        yield emulator


@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds", "extra"), list(combinations()))
async def test_kling_rows(emu, tmp_path, model, mode, aspect, resolution, seconds, extra):
    provider = KlingProvider(adapter_settings(tmp_path, KLING_ACCESS_KEY=ACCESS_KEY, KLING_SECRET_KEY=SECRET_KEY,
                                              KLING_BASE_URL=emu.url))
    frames = {}
    if mode in ("image", "first_last"):
        frames["first_frame"] = file_ref(make_image(tmp_path / "a.png", (640, 360)))
    if mode == "first_last":
        frames["last_frame"] = file_ref(make_image(tmp_path / "b.png", (640, 360), "green"))
    spec = make_spec("kling", model.id, aspect_ratio=aspect, resolution=resolution, duration_s=seconds,
                     **frames, **extra)
    try:
        provider.normalize(spec, model)
    except UnsupportedParameter as exc:
        assert exc.param in ("last_image", "audio", "camera_move"), exc
        return
    await provider.submit(spec, model)  # raises if the emulator (the contract) says no
