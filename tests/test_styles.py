"""Style presets through the MCP tools: the suffix reaches the renderer once, fps and aspect fill only
what the request left unset (and only what the model renders), notes and quotes say what was applied.

Outputs are checked by probing the written files; the prompt that was rendered is read from the
receipt the job wrote (the preview renders exactly its spec) and, for a provider, from the emulator's
recorded create body.
"""

from __future__ import annotations

import json
from pathlib import Path

from client_utils import make_client, settle, start_job

from reelforge.media.probe import probe
from reelforge.providers.registry import load_catalog
from reelforge.studio.catalog_check import build_spec
from reelforge.studio.styles import style_book
from reelforge.studio.tool_schemas import GenerateRequest

PREVIEW = {"provider": "preview", "prompt": "A perfume bottle on marble", "duration_s": 1, "resolution": "360p"}
SEEDED = ("luxury", "energetic", "minimal", "bold", "cinematic", "documentary", "commercial", "artistic", "anime",
          "realistic")


def receipt(job: dict) -> dict:
    return json.loads(Path(job["output"]["receipt_path"]).read_text(encoding="utf-8"))


def test_the_data_file_has_every_seeded_style_with_motion_words():
    book = style_book()
    assert set(SEEDED) <= set(book.styles)
    for name in ("luxury", "energetic", "minimal", "bold"):  # these four also carry a format
        style = book.styles[name]
        assert style.suffix and style.fps and style.aspect_ratio, name
    assert all(book.motion[s.motion] for s in book.styles.values())


def test_every_catalog_camera_move_is_in_the_vocabulary():
    """A provider adding a move the vocabulary does not know would make it unreachable: fail here first."""
    book = style_book()
    known = set(book.camera_moves) | set(book.camera_aliases)
    for model in load_catalog().models():
        assert set(model.capabilities.camera_moves) <= known, model.key
    assert set(book.camera_aliases.values()) <= set(book.camera_moves)


async def test_luxury_fills_fps_and_aspect_and_appends_its_suffix_once(client):
    job = await settle(client, await start_job(client, "generate_video", {**PREVIEW, "style": "luxury"}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert (info.width, info.height, round(info.fps)) == (640, 360, 24)  # 16:9 at 24 fps, from the preset
    prompt = receipt(job)["request"]["prompt"]
    suffix = style_book().styles["luxury"].suffix
    assert prompt.startswith("A perfume bottle on marble.") and prompt.count(suffix) == 1
    assert "slow, gentle, graceful motion" in prompt.lower()  # low motion intensity, as words
    assert any("Style 'luxury' set fps 24" in n for n in job["notes"])
    assert any("Style 'luxury' added to the prompt" in n for n in job["notes"])


async def test_energetic_leaves_what_the_caller_set_alone(client):
    request = {**PREVIEW, "style": "energetic", "fps": 25, "aspect_ratio": "1:1",
               "prompt": "A sprinter bursting off the blocks, fast, energetic, dynamic motion"}
    job = await settle(client, await start_job(client, "generate_video", request))
    info = probe(job["output"]["path"])
    assert (info.width, info.height, round(info.fps)) == (360, 360, 25)  # not the preset's 9:16 at 30 fps
    prompt = receipt(job)["request"]["prompt"]
    assert prompt.count("fast, energetic, dynamic motion") == 1  # already in the prompt: not added again
    assert prompt.endswith(style_book().styles["energetic"].suffix.capitalize() + ".")
    assert not any("set fps" in n or "set aspect_ratio" in n for n in job["notes"])


async def test_minimal_sets_a_square_frame(client):
    job = await settle(client, await start_job(client, "generate_video", {**PREVIEW, "style": "Minimal"}))
    info = probe(job["output"]["path"])
    assert (info.width, info.height) == (360, 360)
    assert style_book().styles["minimal"].suffix in receipt(job)["request"]["prompt"]


async def test_unknown_style_is_refused_with_the_known_ones(client):
    result = await client.call_tool("generate_video", {"request": {**PREVIEW, "style": "vaporwave"}})
    assert result.is_error
    text = result.content[0].text
    assert "vaporwave" in text and all(name in text for name in SEEDED)
    assert not (await client.call_tool("list_jobs", {})).structured_content["jobs"]  # nothing was started


async def test_estimate_shows_what_the_style_applies(client):
    result = await client.call_tool("estimate_cost", {"request": {**PREVIEW, "style": "bold"}})
    assert not result.is_error, result.content[0].text
    breakdown = result.structured_content["quotes"][0]["breakdown"]
    assert "Style 'bold' set fps 30" in breakdown and "Style 'bold' added to the prompt" in breakdown


async def test_a_suggestion_the_model_cannot_render_is_a_note_not_a_refusal(settings):
    """Luma renders 24 fps only: energetic's 30 fps is left out with a note, its 9:16 is used."""
    from provider_utils import require_provider

    require_provider("luma")
    from emulators.luma import LumaEmulator

    with LumaEmulator() as emu:
        emu.steps = 1
        luma = settings.with_provider_env(LUMAAI_API_KEY=emu.api_key, LUMAAI_BASE_URL=emu.dream_machine_url,
                                          LUMA_AGENTS_BASE_URL=emu.agents_url)
        request = {"provider": "luma", "model": "ray-2", "prompt": "a skateboarder", "resolution": "540p",
                   "style": "energetic"}
        async with make_client(luma) as client:
            job = await settle(client, await start_job(client, "generate_video", request))
        assert job["status"] == "succeeded", job
        body = emu.requests_to("create")[0].json
    assert body["aspect_ratio"] == "9:16"
    assert body["prompt"].startswith("a skateboarder.") and style_book().styles["energetic"].suffix in body["prompt"]
    assert any("suggests fps 30" in n and "24 fps is used" in n for n in job["notes"])
    assert probe(job["output"]["path"]).codec == "h264"  # the emulator's fixed clip: the wire body is the check


def test_motion_intensity_becomes_a_documented_model_option_only_where_listed():
    catalog = load_catalog()
    svd = catalog.find("replicate", "stable-video-diffusion")
    req = GenerateRequest(provider="replicate", model=svd.id, style="energetic")
    notes: list[str] = []
    from reelforge.generation_spec import MediaRef

    image = MediaRef(kind="url", url="https://example.com/a.png", mime="image/png")
    spec = build_spec(req, svd, first_frame=image, notes=notes)
    assert spec.extra["motion_bucket_id"] == style_book().motion_options["motion_bucket_id"]["high"]
    assert spec.prompt == ""  # SVD takes no text: the suffix has nowhere to go, and a note says so
    assert any("takes no prompt" in n for n in notes)
    own = build_spec(req.model_copy(update={"options": {"motion_bucket_id": 5}}), svd, first_frame=image)
    assert own.extra["motion_bucket_id"] == 5  # the caller's own value wins
    ltx = catalog.find("replicate", "ltx-video")  # documents no motion option
    spec = build_spec(GenerateRequest(provider="replicate", model=ltx.id, prompt="a kite", style="energetic"), ltx)
    assert "motion_bucket_id" not in spec.extra and "dynamic motion" in spec.prompt


async def test_the_styles_resource_lists_presets_and_camera_moves(client):
    assert "reelforge://styles" in {str(r.uri) for r in (await client.list_resources()).resources}
    contents = (await client.read_resource("reelforge://styles")).contents[0]
    doc = json.loads(contents.text)
    assert set(SEEDED) <= set(doc["styles"]) and doc["styles"]["luxury"]["fps"] == 24
    assert "push_in" in doc["camera_moves"] and "prompt_parts" in doc
