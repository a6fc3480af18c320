"""The catalog loads and validates; requests are checked against it before any work."""

from __future__ import annotations

import json

import pytest

from reelforge.providers.registry import declarations, load_catalog


def test_catalog_validates_and_preview_is_free() -> None:
    catalog = load_catalog()
    preview = catalog.find("preview", "animatic")
    assert preview is not None
    assert preview.price.unit == "free"
    for model in catalog.models():
        assert model.price.source and model.price.as_of
        assert model.capabilities.durations.accepts(model.capabilities.durations.default), model.key
        if model.status == "retired":
            assert model.replacement, model.key


async def test_list_models_tool_and_resource(client) -> None:
    result = await client.call_tool("list_models", {"provider": "preview"})
    assert not result.is_error
    rows = result.structured_content["models"]
    assert [r["model"] for r in rows] == ["animatic"]
    assert rows[0]["ready"] is True
    res = await client.read_resource("reelforge://models/preview/animatic")
    assert json.loads(res.contents[0].text)["id"] == "animatic"


async def test_estimate_preview_costs_zero_with_source(client) -> None:
    result = await client.call_tool("estimate_cost", {"request": {"prompt": "a red fox", "provider": "preview"}})
    assert not result.is_error, result.content
    quote = result.structured_content["quotes"][0]
    assert quote["usd"] == 0 and quote["is_preview"] is True
    assert quote["source"] and quote["as_of"] == "2026-11-21"


async def test_unsupported_parameter_is_refused_naming_it(client) -> None:
    result = await client.call_tool(
        "generate_video", {"request": {"prompt": "x", "provider": "preview", "aspect_ratio": "5:2"}}
    )
    assert result.is_error
    text = result.content[0].text
    assert "aspect_ratio" in text and "16:9" in text and "unsupported_parameter" in text
    jobs = await client.call_tool("list_jobs", {})
    assert jobs.structured_content["jobs"] == []  # refused before any job row


@pytest.mark.parametrize("name", [d.name for d in declarations().values() if d.required])
async def test_missing_key_names_the_variable(client, name: str) -> None:
    """Every keyed provider the registry finds refuses without its key and names each declared variable."""
    result = await client.call_tool("estimate_cost", {"request": {"prompt": "x", "provider": name}})
    assert result.is_error
    for var in declarations()[name].required:
        assert var.name in result.content[0].text


async def test_local_file_outside_allowed_roots_is_refused(client) -> None:
    result = await client.call_tool(
        "generate_video", {"request": {"prompt": "x", "provider": "preview", "image": "/etc/hostname"}}
    )
    assert result.is_error
    assert "input_not_allowed" in result.content[0].text


async def test_preview_refuses_options_instead_of_dropping_them(client) -> None:
    result = await client.call_tool(
        "generate_video", {"request": {"prompt": "x", "provider": "preview", "options": {"steps": 4}}})
    assert result.is_error and "options" in result.content[0].text
