"""What the MiniMax and Replicate adapters must do alike, run against both emulators.

Every catalog row end to end (its field mapping accepted by the emulator's copy of the model's
rules, a probed mp4 at the end); every combination a row offers either refused by `normalize`
(naming the parameter) or accepted by the emulated contract, never refused by the provider after
our checks passed; expired output links cured by reading the job again; slow downloads that
still complete.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from adapter_helpers import file_ref, make_spec, model_entry, poll_to_end
from emulators.base import Emulator, Recorded
from emulators.minimax import API_KEY, MiniMaxEmulator
from emulators.replicate import TOKEN, ReplicateEmulator
from media_utils import make_image

from reelforge.catalog import ModelEntry
from reelforge.providers.registry import adapter_class, load_catalog, provider_names
from reelforge.errors import UnsupportedParameter
from reelforge.media.probe import probe
from reelforge.providers.base import RemoteProvider, RemoteStatus
from reelforge.providers.http import OutputUrlExpired, RetryPolicy, new_client
from reelforge.generation_spec import MediaRef
from reelforge.settings import Settings

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=5.0)
#: Each provider's emulator and variables; only the providers the registry finds are run.
SETUPS = {name: setup for name, setup in {
    "minimax": (MiniMaxEmulator, lambda url: {"MINIMAX_API_KEY": API_KEY, "MINIMAX_API_HOST": url}),
    "replicate": (ReplicateEmulator, lambda url: {"REPLICATE_API_TOKEN": TOKEN, "REPLICATE_BASE_URL": url}),
}.items() if name in provider_names()}


def _names_the_model(name: str, create: Recorded, entry: ModelEntry) -> bool:
    """Whether a create request named the row's model the way that provider expects."""
    if name == "minimax":
        return create.json["model"] == entry.remote_name
    facts = entry.facts
    if getattr(facts, "endpoint", None) == "version":
        return create.path == "/v1/predictions" and create.json["version"] == getattr(facts, "version", None)
    return create.path == f"/v1/models/{entry.remote_name}/predictions"


def _takes_prompt(entry: ModelEntry) -> bool:
    """Replicate rows without a prompt field are image-only; every MiniMax model takes a prompt."""
    fields = getattr(entry.facts, "fields", None)
    return fields is None or "prompt" in fields


ALL_MODELS = [(p, m.id) for p in SETUPS for m in load_catalog().providers[p].models]


@dataclass
class Rig:
    """One provider's emulator and adapter, wired together."""

    name: str
    emu: Emulator
    provider: RemoteProvider

    def model(self, model_id: str | None = None) -> ModelEntry:
        return model_entry(self.name, model_id or load_catalog().providers[self.name].models[0].id)

    async def finished(self, entry: ModelEntry, tmp_path: Path) -> tuple[str, RemoteStatus]:
        """Submit the model's default request (with a first frame when it needs one); poll to the end."""
        first = file_ref(make_image(tmp_path / "f.png", (320, 180), "green")) if "text" not in entry.capabilities.inputs else None
        takes_prompt = _takes_prompt(entry)
        spec = make_spec(self.name, entry.id, prompt="a kite" if takes_prompt else "", first_frame=first)
        spec, _ = self.provider.normalize(spec, entry)
        remote_id = await self.provider.submit(spec, entry)
        return remote_id, (await poll_to_end(self.provider, remote_id, entry))[-1]


async def _rig(name: str, tmp_path: Path) -> AsyncIterator[Rig]:
    emulator_class, keys = SETUPS[name]
    provider_class = adapter_class(name)
    with emulator_class() as emu:
        async with new_client(timeout=httpx.Timeout(5.0, connect=1.0)) as http:
            settings = Settings(home=tmp_path).with_provider_env(**keys(emu.url))
            yield Rig(name, emu, provider_class(settings, http, retry=FAST_RETRY))  # type: ignore[call-arg]


@pytest.fixture(params=sorted(SETUPS))
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    async for item in _rig(request.param, tmp_path):
        yield item


@pytest.mark.parametrize(("name", "model_id"), ALL_MODELS)
async def test_every_catalog_model_runs_end_to_end(name: str, model_id: str, tmp_path: Path) -> None:
    async for rig in _rig(name, tmp_path):
        entry = rig.model(model_id)
        _, status = await rig.finished(entry, tmp_path)
        await rig.provider.download(status, entry, tmp_path / "out.mp4")
        info = probe(tmp_path / "out.mp4")
        assert info.codec == "h264" and info.frames == 24
        (create,) = rig.emu.requests_to("create")
        assert _names_the_model(name, create, entry)


async def test_expired_output_url_is_cured_by_reading_the_job_again(rig: Rig, tmp_path: Path) -> None:
    """The shared base refreshes an expired link inside `download`: one more status read, never a new job.
    (These two adapters used to raise and leave the refresh to the studio; now every adapter does it here.)"""
    entry = rig.model()
    remote_id, status = await rig.finished(entry, tmp_path)
    rig.emu.expire_outputs()
    polls = rig.emu.count("poll")
    await rig.provider.download(status, entry, tmp_path / "late.mp4")
    assert rig.emu.count("poll") == polls + 1 and rig.emu.count("create") == 1
    assert probe(tmp_path / "late.mp4").frames == 24
    # A status that names no job (built by hand, not read by `poll`) cannot be refreshed: the error
    # says so, and nothing half-written is left under the final name.
    rig.emu.expire_outputs()
    orphan = RemoteStatus(status.state, output_urls=status.output_urls)
    with pytest.raises(OutputUrlExpired):
        await rig.provider.download(orphan, entry, tmp_path / "orphan.mp4")
    assert not (tmp_path / "orphan.mp4").exists()


async def test_slow_download_completes(rig: Rig, tmp_path: Path) -> None:
    entry = rig.model()
    _, status = await rig.finished(entry, tmp_path)
    rig.emu.inject("download", chunk_pause_s=0.01)
    await rig.provider.download(status, entry, tmp_path / "slow.mp4")
    assert probe(tmp_path / "slow.mp4").codec == "h264" and rig.emu.count("create") == 1


def _combinations(entry: ModelEntry, image: MediaRef) -> Iterator[dict[str, object]]:
    """Each input mode × aspect ratio × resolution × duration the catalog row offers."""
    caps = entry.capabilities
    rule = caps.durations
    durations = rule.choices or sorted({rule.min, rule.default, rule.max})  # type: ignore[type-var]
    modes = {"text": {}, "image": {"first_frame": image}, "first_last": {"first_frame": image, "last_frame": image}}
    for mode, aspect, resolution, seconds in itertools.product(caps.inputs, caps.aspect_ratios, caps.resolutions, durations):
        takes_prompt = _takes_prompt(entry)
        yield {"aspect_ratio": aspect, "resolution": resolution, "duration_s": seconds,
               "prompt": "a kite" if takes_prompt else "", **modes[mode]}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "model_id"), ALL_MODELS)
async def test_every_offered_combination_is_refused_up_front_or_accepted(name: str, model_id: str, tmp_path: Path) -> None:
    image = file_ref(make_image(tmp_path / "f.png", (320, 180), "green"))
    outcomes = []
    async for rig in _rig(name, tmp_path):
        entry = rig.model(model_id)
        for fields in _combinations(entry, image):
            spec = make_spec(name, model_id, **fields)
            try:
                spec, _ = rig.provider.normalize(spec, entry)
            except UnsupportedParameter as exc:
                assert exc.param, exc
                outcomes.append("refused")
                continue
            await rig.provider.submit(spec, entry)  # raises if the emulated contract says no
            outcomes.append("accepted")
    assert "accepted" in outcomes
