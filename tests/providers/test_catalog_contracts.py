"""Contracts every provider the registry finds must keep, and catalog rows against the providers' contracts.

Registry-wide (parametrized over `provider_names()`, so a new package is covered with no edit here):
its declaration and catalog agree, facts are typed with its own model, the adapter constructs, and a
keyed provider without its credentials refuses before sending anything, naming every variable.

Emulated rows (Runway, Luma, when installed): for each model, aspect ratio, resolution and input mode the catalog offers: either the adapter's
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

from emulators.base import Emulator
from provider_utils import installed, needs_providers

from reelforge.errors import MissingCredentials, UnsupportedParameter
from reelforge.generation_spec import MediaRef
from reelforge.providers.base import LocalProvider, RemoteProvider
from reelforge.providers.registry import _model_entry, adapter_class, declarations, load_catalog, provider_names

URL_IMAGE = MediaRef(kind="url", url="https://images.example.com/a.png", mime="image/png")


@pytest.mark.parametrize("name", provider_names())
def test_declaration_and_catalog_agree(name: str) -> None:
    decl = declarations()[name]
    entry = load_catalog().providers[name]
    assert entry.title == decl.title and entry.local == decl.local and entry.models
    for model in entry.models:
        assert model.provider == name
        assert model.facts is None or (decl.facts is not None and isinstance(model.facts, decl.facts)), model.key
    kinds = {v.kind for v in decl.variables}
    assert kinds <= {"key", "secret", "file", "url"}
    assert all(v.default for v in decl.variables if v.kind == "url"), "a URL variable needs its default"


@pytest.mark.parametrize("name", provider_names())
def test_adapter_constructs_and_matches_its_declaration(name: str, tmp_path) -> None:
    decl = declarations()[name]
    provider = adapter_class(name)(adapter_settings(tmp_path))
    assert provider.name == name
    assert isinstance(provider, LocalProvider if decl.local else RemoteProvider)
    if decl.local:
        assert not decl.required, "a local renderer needs no key"


@pytest.mark.parametrize("name", [n for n in provider_names() if declarations()[n].required])
async def test_missing_credentials_refuse_before_any_request(name: str, tmp_path) -> None:
    decl = declarations()[name]
    model = load_catalog().providers[name].models[0]
    with Emulator() as emu:  # every base URL points here: any request at all would be recorded
        provider = adapter_class(name)(adapter_settings(tmp_path, **{v.name: emu.url for v in decl.variables
                                                                     if v.kind == "url"}))
        assert isinstance(provider, RemoteProvider)
        spec = make_spec(name, model.id)
        for call in (lambda: provider.submit(spec, model), lambda: provider.poll("job-1", model),
                     lambda: provider.cancel("job-1", model)):
            with pytest.raises(MissingCredentials) as err:
                await call()
            assert all(v.name in str(err.value) for v in decl.required), err.value
        assert emu.requests == []


def test_a_bad_facts_entry_fails_the_load_naming_file_model_and_field() -> None:
    decl = next(d for d in declarations().values() if d.facts is not None)
    row = load_catalog().providers[decl.name].models[0].model_dump(mode="json")
    row["facts"] = {**row["facts"], "no_such_fact": 1}
    with pytest.raises(ValueError, match=rf"{decl.name}/catalog.json: model {row['id']}: facts.no_such_fact"):
        _model_entry(decl, row, f"reelforge/providers/{decl.name}/catalog.json")


def combinations(provider: str):
    if not installed(provider):
        return
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


@needs_providers("runway")
@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds"), list(combinations("runway")))
async def test_runway_rows(runway_emu, tmp_path, model, mode, aspect, resolution, seconds):
    provider = adapter_class("runway")(adapter_settings(tmp_path, RUNWAYML_API_SECRET=runway_emu.api_key, RUNWAYML_BASE_URL=runway_emu.url))
    ref = None
    if mode == "image":
        ref = file_ref(make_image(tmp_path / "a.png"))
    elif mode == "video":
        ref = file_ref(make_clip(tmp_path / "a.mp4", seconds=0.5, audio=False), "video/mp4")
    outcome = await accepted_or_refused(provider, runway_emu, model, mode, aspect, resolution, seconds, ref)
    # Text-to-video refusals are only the ratios Runway keeps for image input.
    if outcome == "refused":
        assert mode == "text" and aspect not in ("16:9", "9:16")


@needs_providers("luma")
@pytest.mark.parametrize(("model", "mode", "aspect", "resolution", "seconds"), list(combinations("luma")))
async def test_luma_rows(luma_emu, tmp_path, model, mode, aspect, resolution, seconds):
    provider = adapter_class("luma")(adapter_settings(
        tmp_path, LUMAAI_API_KEY=luma_emu.api_key, LUMAAI_BASE_URL=luma_emu.dream_machine_url,
        LUMA_AGENTS_BASE_URL=luma_emu.agents_url,
    ))  # fmt: skip
    image = URL_IMAGE if model.facts.api == "dream_machine" else file_ref(make_image(tmp_path / "a.png"))
    outcome = await accepted_or_refused(provider, luma_emu, model, mode, aspect, resolution, seconds, image)
    assert outcome == "accepted"
