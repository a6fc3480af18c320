"""Every fal catalog row against the emulated apps: each input mode, aspect ratio, resolution and duration
the row offers is either refused by `normalize` (naming the parameter) or accepted by the emulated
app's schema (`emulators/fal_schemas.py`); never refused by "fal" after our checks passed. And every
row runs end to end from a local first frame (uploaded through fal storage) to a probed mp4.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from provider_utils import require_provider

require_provider("fal")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe
from emulators.fal import FalEmulator
from emulators.fal_schemas import APPS
from media_utils import make_image

from reelforge.catalog import ModelEntry
from reelforge.errors import UnsupportedParameter
from reelforge.generation_spec import MediaRef
from reelforge.providers.fal.adapter import FalProvider
from reelforge.providers.http import RetryPolicy
from reelforge.providers.registry import load_catalog

URL = MediaRef(kind="url", url="https://images.example.com/a.png", mime="image/png")
REFS = ["https://images.example.com/hero.png", "https://images.example.com/villain.png"]
MODELS = [m.id for m in load_catalog().providers["fal"].models] if "fal" in load_catalog().providers else []


@pytest.fixture(scope="module")
def emu():
    with FalEmulator() as emulator:
        yield emulator


def provider(emu: FalEmulator, tmp_path: Path) -> FalProvider:
    env = {"FAL_KEY": emu.api_key, "FAL_QUEUE_RUN_HOST": emu.url, "FAL_REST_URL": emu.url}
    settings = adapter_settings(tmp_path, **env).model_copy(update={"allow_private_urls": True})
    return FalProvider(settings, retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02))


def durations(model: ModelEntry) -> list[float]:
    rule = model.capabilities.durations
    if rule.choices is not None:
        return list(rule.choices)
    assert rule.min is not None and rule.max is not None
    step = rule.step or 1
    return [rule.min + i * step for i in range(int((rule.max - rule.min) / step) + 1)]


def modes(model: ModelEntry) -> dict[str, dict[str, object]]:
    refs_need_frame = getattr(getattr(model.facts, "references", None), "kind", None) == "image"
    table = {"text": {}, "image": {"first_frame": URL}, "first_last": {"first_frame": URL, "last_frame": URL},
             "reference": {"extra": {"references": REFS}, **({"first_frame": URL} if refs_need_frame else {})}}
    return {k: v for k, v in table.items() if k in model.capabilities.inputs}


def combinations(model: ModelEntry):
    caps = model.capabilities
    rows = [(a, r, caps.durations.default) for a, r in itertools.product(caps.aspect_ratios, caps.resolutions)]
    rows += [(caps.aspect_ratios[0], caps.resolutions[0], d) for d in durations(model) if d != caps.durations.default]
    for (mode, inputs), (aspect, resolution, seconds) in itertools.product(modes(model).items(), rows):
        yield mode, {"aspect_ratio": aspect, "resolution": resolution, "duration_s": seconds, **inputs}


def test_every_endpoint_in_the_catalog_is_an_emulated_app():
    for model_id in MODELS:
        for endpoint in model_entry("fal", model_id).facts.endpoints.values():  # type: ignore[union-attr]
            assert endpoint in APPS, f"{model_id}: {endpoint} has no emulated schema"


@pytest.mark.parametrize("model_id", MODELS)
async def test_every_offered_combination_is_refused_up_front_or_accepted(emu, tmp_path, model_id):
    fal = provider(emu, tmp_path)
    entry = model_entry("fal", model_id)
    outcomes: dict[str, int] = {"accepted": 0, "refused": 0}
    before = emu.count("create")
    for mode, fields in combinations(entry):
        spec = make_spec("fal", model_id, **fields)
        try:
            spec, _ = fal.normalize(spec, entry)
        except UnsupportedParameter as exc:
            assert exc.param, exc
            outcomes["refused"] += 1
            continue
        await fal.submit(spec, entry)  # raises InvalidRequest if the emulated app's schema says no
        outcomes["accepted"] += 1
    assert outcomes["accepted"] > 0 and emu.count("create") - before == outcomes["accepted"]


@pytest.mark.parametrize("model_id", MODELS)
async def test_every_row_runs_end_to_end_from_a_local_frame(emu, tmp_path, model_id):
    fal = provider(emu, tmp_path)
    entry = model_entry("fal", model_id)
    needs_image = "text" not in entry.capabilities.inputs
    takes_image = needs_image or "image" in entry.capabilities.inputs
    image = file_ref(make_image(tmp_path / "f.png", (320, 180), "green")) if takes_image else None
    spec, _ = fal.normalize(make_spec("fal", model_id, first_frame=image), entry)
    remote_id = await fal.submit(spec, entry)
    final = (await poll_to_end(fal, remote_id, entry))[-1]
    await fal.download(final, entry, tmp_path / "out.mp4")
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 24
    if image is not None:
        body = emu.jobs[remote_id].request
        assert any(v in emu.uploads for v in body.values() if isinstance(v, str))
