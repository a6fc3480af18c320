"""The rest of the MCP surface in memory: cancel, resources, prompt, schemas and annotations."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest


@pytest.mark.slow
async def test_cancel_job_stops_rendering_and_leaves_no_file(client, settings) -> None:
    started = await client.call_tool("generate_video", {"request": {
        "prompt": "long", "provider": "preview", "duration_s": 60, "resolution": "1080p", "wait_seconds": 0}})
    job_id = started.structured_content["job_id"]
    with anyio.fail_after(60):
        while True:
            job = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 0.5})).structured_content
            if job["status"] == "running":
                break
    canceled = await client.call_tool("cancel_job", {"job_id": job_id})
    assert canceled.structured_content["status"] == "canceled"
    assert canceled.structured_content["error"]["code"] == "canceled"
    out_dir = settings.outputs / job_id
    assert not (out_dir / "video.mp4").exists()
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".partial")]
    again = await client.call_tool("cancel_job", {"job_id": job_id})  # idempotent
    assert again.structured_content["status"] == "canceled"


async def test_unknown_job_is_an_actionable_error(client) -> None:
    result = await client.call_tool("get_job", {"job_id": "job_nope"})
    assert result.is_error and "job_not_found" in result.content[0].text and "list_jobs" in result.content[0].text


async def test_resources_guide_jobs_and_prompt(client) -> None:
    listed = {str(r.uri) for r in (await client.list_resources()).resources}
    assert {"reelforge://models", "reelforge://jobs", "reelforge://guide"} <= listed
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert {"reelforge://jobs/{id}", "reelforge://models/{provider}/{model}"} <= templates
    guide = (await client.read_resource("reelforge://guide")).contents[0].text
    assert "get_job" in guide and "idempotency_key" in guide
    jobs = json.loads((await client.read_resource("reelforge://jobs")).contents[0].text)
    assert jobs == {"jobs": []}
    prompt = await client.get_prompt("storyboard", {"idea": "a coffee ad", "shots": "3"})
    assert "compose_timeline" in prompt.messages[0].content.text
    product = await client.get_prompt("product_video", {"product": "a ceramic mug", "style": "social"})
    assert "9:16" in product.messages[0].content.text and "estimate_cost" in product.messages[0].content.text


async def test_tools_have_titles_schemas_and_honest_annotations(client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("generate_video", "extend_video", "make_loop", "compose_timeline", "generate_batch"):
        a = tools[name].annotations
        assert a.read_only_hint is False and a.idempotent_hint is False, name
        assert tools[name].output_schema and "job_id" in json.dumps(tools[name].output_schema)
    for name in ("estimate_cost", "get_job", "list_jobs", "list_models"):
        assert tools[name].annotations.read_only_hint is True, name
    assert tools["cancel_job"].annotations.destructive_hint is True
    assert tools["save_character"].annotations.destructive_hint is True  # it replaces a character of that name
    # Every tool, new ones included (hosts decide on approval from the annotations).
    assert all(t.title and t.annotations is not None and t.output_schema for t in tools.values())

