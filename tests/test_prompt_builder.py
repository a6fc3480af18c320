"""The structured prompt and camera moves normalised per model.

The built prompt is checked where it lands: the receipt of a preview job (the renderer's own spec)
and the create body a provider emulator recorded. A camera move is sent natively where the model has
it, written into the prompt with a note where it has not, refused where the model takes no text,
and never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_utils import make_client, settle, start_job
from provider_utils import require_provider

from reelforge.errors import InvalidRequest, UnsupportedParameter
from reelforge.generation_spec import MediaRef
from reelforge.providers.registry import load_catalog
from reelforge.settings import Settings
from reelforge.studio.catalog_check import build_spec
from reelforge.studio.prompt_builder import parts_text
from reelforge.studio.tool_schemas import GenerateRequest, PromptParts

PARTS = {"subject": "a red fox", "action": "leaps over a fallen log", "setting": "in a snowy forest",
         "camera": "low angle", "style": "nature documentary", "lighting": "golden hour",
         "details": "breath visible in the cold air"}
BUILT = ("A red fox leaps over a fallen log, in a snowy forest. Camera: low angle. Style: nature documentary. "
         "Lighting: golden hour. Breath visible in the cold air.")
PREVIEW = {"provider": "preview", "duration_s": 1, "resolution": "360p"}


def receipt_prompt(job: dict) -> str:
    return json.loads(Path(job["output"]["receipt_path"]).read_text(encoding="utf-8"))["request"]["prompt"]


def test_parts_build_the_same_text_every_time_in_a_fixed_order():
    assert parts_text(PromptParts(**PARTS)) == BUILT
    shuffled = PromptParts(**dict(reversed(list(PARTS.items()))))
    assert parts_text(shuffled) == BUILT
    assert parts_text(PromptParts(subject="a kite", lighting="overcast.")) == "A kite. Lighting: overcast."
    assert parts_text(PromptParts(setting="on a beach")) == "On a beach."


async def test_prompt_parts_reach_the_renderer(client):
    job = await settle(client, await start_job(client, "generate_video", {**PREVIEW, "prompt_parts": PARTS}))
    assert job["status"] == "succeeded", job
    assert receipt_prompt(job) == BUILT


async def test_prompt_comes_first_then_the_parts(client):
    request = {**PREVIEW, "prompt": "Wildlife footage", "prompt_parts": {"subject": "a heron", "action": "fishing"}}
    job = await settle(client, await start_job(client, "generate_video", request))
    assert receipt_prompt(job) == "Wildlife footage. A heron fishing."


async def test_a_built_prompt_past_the_model_limit_is_refused_naming_the_part(client):
    request = {**PREVIEW, "prompt": "x" * 1990, "prompt_parts": {"subject": "a long tail"}}
    result = await client.call_tool("generate_video", {"request": request})
    assert result.is_error and "prompt_parts" in result.content[0].text and "2000" in result.content[0].text
    result = await client.call_tool("generate_video", {"request": {**PREVIEW, "prompt": "x" * 1995,
                                                                   "style": "luxury"}})
    assert result.is_error and "style" in result.content[0].text  # the suffix is what pushed it over
    assert not (await client.call_tool("list_jobs", {})).structured_content["jobs"]


async def test_a_style_alone_is_not_a_prompt(client):
    result = await client.call_tool("generate_video", {"request": {**PREVIEW, "style": "anime"}})
    assert result.is_error and "needs a prompt" in result.content[0].text


# --- camera moves at a provider with native moves (Luma concepts) ----------------------------------


@pytest.fixture
def luma(settings: Settings) -> Iterator[tuple[object, Settings]]:
    require_provider("luma")
    from emulators.luma import LumaEmulator

    with LumaEmulator() as emu:
        emu.steps = 1
        yield emu, settings.with_provider_env(LUMAAI_API_KEY=emu.api_key, LUMAAI_BASE_URL=emu.dream_machine_url,
                                              LUMA_AGENTS_BASE_URL=emu.agents_url)


RAY2 = {"provider": "luma", "model": "ray-2", "prompt": "a paper boat on a pond", "resolution": "540p"}


async def test_an_alias_is_sent_under_the_model_s_own_name(luma):
    emu, settings = luma
    async with make_client(settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**RAY2, "camera_move": "Dolly in"}))
    assert job["status"] == "succeeded", job
    body = emu.requests_to("create")[0].json
    assert body["concepts"] == [{"key": "push_in"}] and body["prompt"] == "a paper boat on a pond"
    assert any("'Dolly in' is sent as luma/ray-2's own 'push_in'" in n for n in job["notes"])


async def test_a_move_the_model_lacks_is_written_into_the_prompt_with_a_note(luma):
    emu, settings = luma
    async with make_client(settings) as client:
        quote = await client.call_tool("estimate_cost", {"request": {**RAY2, "camera_move": "tracking_shot"}})
        job = await settle(client, await start_job(client, "generate_video", {**RAY2, "camera_move": "tracking_shot"}))
    assert job["status"] == "succeeded", job
    body = emu.requests_to("create")[0].json
    assert "concepts" not in body  # not sent as a concept Luma does not have...
    assert body["prompt"] == "a paper boat on a pond. Tracking shot following the subject."  # ...but not dropped
    note = next(n for n in job["notes"] if n.startswith("camera_move 'tracking_shot'"))
    assert "written into the prompt" in note
    assert note in quote.structured_content["quotes"][0]["breakdown"]  # the quote says the same


async def test_something_that_is_no_camera_move_is_refused(luma):
    _, settings = luma
    async with make_client(settings) as client:
        result = await client.call_tool("generate_video", {"request": {**RAY2, "camera_move": "teleport"}})
    assert result.is_error and "teleport" in result.content[0].text and "push_in" in result.content[0].text


def test_a_model_without_text_refuses_a_move_it_cannot_make():
    svd = load_catalog().find("replicate", "stable-video-diffusion")
    image = MediaRef(kind="url", url="https://example.com/a.png", mime="image/png")
    with pytest.raises(UnsupportedParameter) as info:
        build_spec(GenerateRequest(provider="replicate", model=svd.id, camera_move="pan_left"), svd, first_frame=image)
    assert info.value.param == "camera_move" and "no prompt" in str(info.value)


def test_minimax_gets_its_own_static_shot_and_preview_a_phrase():
    require_provider("minimax")
    catalog = load_catalog()
    hailuo = catalog.find("minimax", "hailuo-02")
    spec = build_spec(GenerateRequest(provider="minimax", model=hailuo.id, prompt="a cat", camera_move="static"), hailuo)
    assert spec.camera_move == "static_shot" and spec.prompt == "a cat"
    animatic = catalog.find("preview", "animatic")
    notes: list[str] = []
    spec = build_spec(GenerateRequest(prompt="a cat", camera_move="orbit_left"), animatic, notes=notes)
    assert spec.camera_move is None and spec.prompt == "a cat. Camera orbits left around the subject."
    assert len(notes) == 1 and "written into the prompt" in notes[0]


def test_the_camera_phrase_counts_against_the_limit():
    sora = load_catalog().find("sora", "sora-2")
    req = GenerateRequest(provider="sora", model=sora.id, prompt="y" * 1995, camera_move="pan_left")
    with pytest.raises(InvalidRequest) as info:
        build_spec(req, sora)
    assert info.value.param == "camera_move"
