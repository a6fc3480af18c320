"""Characters: named reference images kept by the studio, sent to each provider in its own wire format.

- save_character copies local images (and frames of a finished job) into the store, so deleting the
  originals changes nothing; reelforge://characters lists them, per user.
- generate_video(characters=[...]) reaches Veo (`instances[0].referenceImages`, referenceType asset),
  Seedance (`content[]` items with role reference_image) and xAI (`reference_images: [{url}]`): the
  bytes each emulator received are the stored images' bytes, and the description is in the prompt.
- A model without references is refused before anything is sent; 'auto' routes only to models that
  take them; an unknown name is refused with the known ones; more images than a model takes are refused
  with its limit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from client_utils import make_client, settle, start_job
from media_utils import make_gradient_image, make_image
from PIL import Image
from provider_utils import needs_providers

from reelforge.media.frames import frame_at
from reelforge.media.probe import probe
from reelforge.settings import Settings


async def _save(client, name: str, images: list, **extra) -> dict:
    result = await client.call_tool("save_character", {"name": name, "images": images, **extra})
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def _listed(client) -> dict[str, dict]:
    body = json.loads((await client.read_resource("reelforge://characters")).contents[0].text)
    return {c["name"]: c for c in body["characters"]}


def _stored_bytes(character: dict) -> list[bytes]:
    return [Path(p).read_bytes() for p in character["images"]]


# --- the store -----------------------------------------------------------------------------------


async def test_save_from_local_images_copies_them_in(settings: Settings, tmp_path: Path) -> None:
    red = make_image(tmp_path / "red.png", (96, 64), "red")
    grad = make_gradient_image(tmp_path / "grad.png", (96, 64))
    originals = [red.read_bytes(), grad.read_bytes()]
    async with make_client(settings) as client:
        saved = await _save(client, "ana", [str(red), str(grad), str(red)], description="a red-haired pilot",
                            voice="low and calm")
        red.unlink(), grad.unlink()  # the character keeps its own copies
        listed = await _listed(client)
        one = json.loads((await client.read_resource("reelforge://characters/ana")).contents[0].text)
    assert saved["name"] == "ana" and len(saved["images"]) == 2  # the repeated image is kept once
    assert _stored_bytes(listed["ana"]) == originals and one == listed["ana"]
    assert all(Path(p).parent == settings.characters_dir / "_" / "ana" for p in one["images"])
    assert one["description"] == "a red-haired pilot" and one["voice"] == "low and calm"
    record = json.loads((settings.characters_dir / "_" / "ana" / "character.json").read_text())
    assert record["images"] == [Path(p).name for p in one["images"]] and record["created_at"]


async def test_save_from_an_earlier_jobs_output(settings: Settings, tmp_path: Path) -> None:
    async with make_client(settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "preview", "prompt": "a lighthouse at dusk", "duration_s": 2}))
        assert job["status"] == "succeeded", job
        poster = await _save(client, "keeper", [{"job_id": job["job_id"]}])
        framed = await _save(client, "keeper-frame", [{"job_id": job["job_id"], "at_s": 1.0}])
        late = await client.call_tool("save_character", {"name": "late", "images": [{"job_id": job["job_id"], "at_s": 60}]})
    # Without at_s: the job's poster (a preview job keeps no separate last frame), byte for byte.
    assert _stored_bytes(poster) == [Path(job["output"]["poster_path"]).read_bytes()]
    # With at_s: that exact frame of the output, decoded from the video, as a lossless PNG.
    info = probe(job["output"]["path"])
    expected = frame_at(job["output"]["path"], round(1.0 * info.fps))
    stored = np.asarray(Image.open(framed["images"][0]).convert("RGB"))
    assert framed["images"][0].endswith(".png") and np.array_equal(stored, expected)
    assert late.is_error and "at_s" in late.content[0].text  # a time past the clip is refused by name


async def test_bad_names_and_sources_are_refused_clearly(settings: Settings, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not an image")
    outside = Path("/etc/hostname")
    async with make_client(settings) as client:
        bad_name = await client.call_tool("save_character", {"name": "Ana Smith", "images": [str(clip)]})
        not_image = await client.call_tool("save_character", {"name": "ana", "images": [str(clip)]})
        elsewhere = await client.call_tool("save_character", {"name": "ana", "images": [str(outside)]})
        no_job = await client.call_tool("save_character", {"name": "ana", "images": [{"job_id": "nope"}]})
        assert await _listed(client) == {}
    assert bad_name.is_error and "lowercase" in bad_name.content[0].text
    assert not_image.is_error and "PNG, JPEG or WebP" in not_image.content[0].text
    assert elsewhere.is_error and "allowed input folders" in elsewhere.content[0].text
    assert no_job.is_error and "nope" in no_job.content[0].text


async def test_each_user_sees_only_their_own(settings: Settings, tmp_path: Path) -> None:
    from reelforge.errors import InvalidRequest
    from reelforge.studio import characters
    from reelforge.studio.caller import acting_as
    from reelforge.studio.operations import open_studio

    image = make_image(tmp_path / "a.png")
    studio = open_studio(settings, resume=False)
    try:
        with acting_as("alice"):
            characters.save(studio, "ana", [str(image)])
        with acting_as("bob"):
            assert characters.list_all(settings) == []
            with pytest.raises(InvalidRequest, match="No character 'ana'"):
                characters.get(settings, "ana")
        with acting_as("alice"):
            assert [c.name for c in characters.list_all(settings)] == ["ana"]
    finally:
        studio.store.close()


def test_every_model_taking_references_says_how_many() -> None:
    """The catalog's `reference` input kind and the facts' limit agree, so routing and the count check match."""
    from reelforge.providers.registry import load_catalog

    for entry in load_catalog().providers.values():
        for model in entry.models:
            limit = model.facts.reference_limit() if model.facts is not None else 0
            assert ("reference" in model.capabilities.inputs) == (limit > 0), model.key


# --- three providers, each in its own wire format ---------------------------------------------------


@pytest.fixture
def emus() -> Iterator[dict[str, object]]:
    from emulators.runway import RunwayEmulator
    from emulators.seedance import SeedanceEmulator
    from emulators.veo import VeoEmulator
    from emulators.xai import XaiEmulator

    with VeoEmulator() as veo, SeedanceEmulator() as seedance, XaiEmulator() as xai, RunwayEmulator() as runway:
        yield {"veo": veo, "seedance": seedance, "xai": xai, "runway": runway}


@pytest.fixture
def keyed(settings: Settings, emus) -> Settings:
    veo, seedance, xai, runway = emus["veo"], emus["seedance"], emus["xai"], emus["runway"]
    return settings.with_provider_env(
        GEMINI_API_KEY=veo.api_key, GOOGLE_GEMINI_BASE_URL=veo.url, ARK_API_KEY=seedance.api_key,
        ARK_BASE_URL=seedance.base_url, XAI_API_KEY=xai.api_key, XAI_BASE_URL=xai.url + "/v1",
        RUNWAYML_API_SECRET=runway.api_key, RUNWAYML_BASE_URL=runway.url,
    ).model_copy(update={"confirm_above_usd": 100.0})


def _data_uri_bytes(url: str) -> bytes:
    head, _, data = url.partition(",")
    assert head.startswith("data:image/") and head.endswith(";base64"), head
    return base64.b64decode(data)


async def _ana(client, tmp_path: Path, count: int = 2) -> dict:
    colours = ["red", "teal", "gold", "navy"]
    images = [str(make_image(tmp_path / f"ana{i}.png", (128, 72), colours[i])) for i in range(count)]
    return await _save(client, "ana", images, description="a red-haired pilot in a green flight suit")


@needs_providers("veo", "seedance", "xai", "runway")
async def test_a_character_reaches_three_providers_in_their_own_format(keyed, emus, tmp_path) -> None:
    async with make_client(keyed) as client:
        ana = await _ana(client, tmp_path)
        stored = _stored_bytes(ana)
        jobs = {}
        for provider, model, seconds in (("veo", "veo-3.1-fast-generate-preview", 8),
                                         ("seedance", "seedance-2.0", 5), ("xai", "grok-imagine-video", 6)):
            jobs[provider] = await settle(client, await start_job(client, "generate_video", {
                "provider": provider, "model": model, "prompt": "ana walks to her plane", "duration_s": seconds,
                "characters": ["ana"]}))
    for provider, job in jobs.items():
        assert job["status"] == "succeeded", (provider, job["error"])
        assert probe(job["output"]["path"]).frames > 0
        assert any(n.startswith("Character ana: 2 reference image(s)") for n in job["notes"]), job["notes"]

    veo = emus["veo"].requests_to("create")[0].json["instances"][0]
    assert [r["referenceType"] for r in veo["referenceImages"]] == ["asset", "asset"]
    assert [base64.b64decode(r["image"]["bytesBase64Encoded"]) for r in veo["referenceImages"]] == stored
    assert "image" not in veo and "Character ana: a red-haired pilot in a green flight suit." in veo["prompt"]

    content = emus["seedance"].requests_to("create")[0].json["content"]
    refs = [c for c in content if c.get("role") == "reference_image"]
    assert [c["type"] for c in refs] == ["image_url", "image_url"] and len(content) == 3  # text + 2 references
    assert [_data_uri_bytes(c["image_url"]["url"]) for c in refs] == stored
    assert "red-haired pilot" in next(c["text"] for c in content if c["type"] == "text")

    xai = emus["xai"].requests_to("create")[0].json
    assert [_data_uri_bytes(r["url"]) for r in xai["reference_images"]] == stored and "image" not in xai
    assert "red-haired pilot" in xai["prompt"]


@needs_providers("seedance")
async def test_a_job_that_kept_its_last_frame_gives_that_frame(keyed, emus, tmp_path) -> None:
    """Seedance returns the clip's last frame as a still (outputs.last_frame): a character made from the
    job takes exactly that still, not the poster."""
    from reelforge.jobs.store import JobStore

    async with make_client(keyed) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "provider": "seedance", "model": "seedance-2.0", "prompt": "a pilot at the hangar door"}))
        assert job["status"] == "succeeded", job["error"]
        saved = await _save(client, "pilot", [{"job_id": job["job_id"]}])
    store = JobStore(keyed.ledger)
    try:
        still = Path(store.get(job["job_id"]).outputs["last_frame"])
    finally:
        store.close()
    assert _stored_bytes(saved) == [still.read_bytes()] and saved["images"][0].endswith(still.suffix)


@needs_providers("fal")
async def test_fal_rows_take_characters_as_their_own_references(settings, tmp_path) -> None:
    """On fal the images go through `options.references` to the row's own field: Pika scenes' `images`."""
    from emulators.fal import FalEmulator

    with FalEmulator() as emu:
        keyed = settings.with_provider_env(FAL_KEY=emu.api_key, FAL_QUEUE_RUN_HOST=emu.url, FAL_REST_URL=emu.url)
        async with make_client(keyed.model_copy(update={"confirm_above_usd": 100.0})) as client:
            ana = await _ana(client, tmp_path)
            job = await settle(client, await start_job(client, "generate_video", {
                "provider": "fal", "model": "pika-2.2", "prompt": "ana waves", "characters": ["ana"]}))
        assert job["status"] == "succeeded", job["error"]
        create = emu.requests_to("create")[0]
        assert create.path == "/fal-ai/pika/v2.2/pikascenes"
        assert [emu.uploads[i["image_url"]] for i in create.json["images"]] == _stored_bytes(ana)
        assert "Character ana: a red-haired pilot" in create.json["prompt"]


@needs_providers("veo", "runway")
async def test_a_model_without_references_is_refused_and_nothing_is_sent(keyed, emus, tmp_path) -> None:
    async with make_client(keyed) as client:
        await _ana(client, tmp_path)
        runway = await client.call_tool("generate_video", {"request": {
            "provider": "runway", "model": "gen4.5", "prompt": "ana waves", "characters": ["ana"]}})
        unknown = await client.call_tool("generate_video", {"request": {
            "provider": "veo", "prompt": "bob waves", "characters": ["bob"]}})
        await _save(client, "crew", [str(make_image(tmp_path / f"c{i}.png", (64, 64), (i * 60, 0, 0)))
                                     for i in range(4)])
        too_many = await client.call_tool("generate_video", {"request": {
            "provider": "veo", "model": "veo-3.1-generate-preview", "prompt": "the crew", "characters": ["crew"]}})
        fallback = await client.call_tool("generate_video", {"request": {
            "provider": "veo", "prompt": "ana waves", "characters": ["ana"], "fallback": ["runway/gen4.5"]}})
    text = runway.content[0].text
    assert runway.is_error and "runway/gen4.5 takes no reference images" in text and "ana" in text, text
    assert unknown.is_error and "No character 'bob'" in unknown.content[0].text and "ana" in unknown.content[0].text
    text = too_many.content[0].text
    assert too_many.is_error and "veo/veo-3.1-generate-preview takes at most 3 reference images" in text, text
    text = fallback.content[0].text  # a fallback must take the characters too, or the call is refused up front
    assert fallback.is_error and "fallback[0]" in text and "takes no reference images" in text, text
    assert emus["runway"].requests == [] and emus["veo"].requests == []


@needs_providers("veo", "runway")
async def test_auto_routes_only_to_models_that_take_references(keyed, emus, tmp_path) -> None:
    async with make_client(keyed) as client:
        await _ana(client, tmp_path)
        plain = await client.call_tool("estimate_cost", {"request": {"prompt": "a kite"}})
        cast = await client.call_tool("estimate_cost", {"request": {"prompt": "ana flies", "characters": ["ana"]}})
        compared = await client.call_tool("estimate_cost", {"request": {
            "prompt": "ana flies", "characters": ["ana"], "route": "cheapest"}, "compare": True})
        job = await settle(client, await start_job(client, "generate_video", {
            "prompt": "ana flies", "characters": ["ana"], "route": "cheapest"}))
    assert plain.structured_content["quotes"][0]["provider"] == "runway"  # first in the declared order
    assert cast.structured_content["quotes"][0]["provider"] != "runway"  # the first that takes references
    ranked = [r["model"] for r in compared.structured_content["ranking"]]
    excluded = {e["model"]: e["reason"] for e in compared.structured_content["excluded"]}
    assert ranked and not any(m.startswith("runway/") for m in ranked), ranked
    assert "takes no reference images" in excluded["runway/gen4.5"]
    assert job["status"] == "succeeded" and f"{job['provider']}/{job['model']}" == ranked[0], job
    assert emus["runway"].requests == []


@needs_providers("veo", "runway")
async def test_list_models_filters_on_references(keyed) -> None:
    async with make_client(keyed) as client:
        rows = (await client.call_tool("list_models", {"input": "reference"})).structured_content["models"]
    keys = {f"{r['provider']}/{r['model']}" for r in rows}
    assert "veo/veo-3.1-generate-preview" in keys and not any(k.startswith("runway/") for k in keys)


def test_the_command_line_adds_lists_and_removes(settings: Settings, tmp_path: Path, monkeypatch, capsys) -> None:
    from reelforge.cli import main

    monkeypatch.setenv("REELFORGE_HOME", str(settings.home))
    make_image(tmp_path / "a.png"), make_gradient_image(tmp_path / "b.png")  # the cwd is tmp_path

    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as done:
            main(list(argv))
        out, err = capsys.readouterr()
        return done.value.code, out, err

    assert run("characters", "add", "ana", "a.png", "b.png", "--description", "a pilot")[0] == 0
    code, out, _ = run("characters", "--json")
    listed = json.loads(out)
    assert code == 0 and [c["name"] for c in listed] == ["ana"] and listed[0]["description"] == "a pilot"
    assert [Path(p).read_bytes() for p in listed[0]["images"]] == [(tmp_path / n).read_bytes() for n in ("a.png", "b.png")]
    code, _, err = run("characters", "rm", "bob")
    assert code == 2 and "No character 'bob'. Known: ana." in err
    assert run("characters", "rm", "ana")[0] == 0 and run("characters")[1].startswith("(no characters")
