"""`tools/list` stays within its 15 KB budget without losing what a calling model or client needs.

Every conversation pays for the tool list, so its size is a deterministic budget: measured the way
`benchmarks/tools_size.py` measures it (json.dumps of every listed tool). Slimming must keep each
input field with its constraints (enums, bounds, patterns), so clients still validate arguments.
"""

from __future__ import annotations

import json
from typing import Any

from reelforge.studio.tool_schemas import ComposeRequest, ExtendRequest, GenerateRequest, LoopRequest

BUDGET_BYTES = 15 * 1024
CONSTRAINTS = {"enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "maxLength", "minLength",
               "pattern", "minItems", "maxItems", "required", "additionalProperties"}


def _rows(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def _constraints(schema: Any, path: str = "") -> set[tuple[str, str, str]]:
    """Every (place, keyword, value) that restricts what validates, with $refs and nullable unions folded."""
    found: set[tuple[str, str, str]] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in CONSTRAINTS:
                kept = sorted(v for v in value if v is not None) if key == "enum" else value
                found.add((path, key, json.dumps(kept, sort_keys=True)))
            elif key == "properties":
                for name, sub in value.items():
                    found |= _constraints(sub, f"{path}.{name}")
            elif key not in ("$defs", "title", "description", "default"):
                found |= _constraints(value, path)
    elif isinstance(schema, list):
        for item in schema:
            found |= _constraints(item, path)
    return found


def _inline(schema: dict[str, Any]) -> Any:
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)


async def test_tools_list_fits_the_budget(client) -> None:
    rows = _rows((await client.list_tools()).tools)
    total = len(json.dumps(rows))
    largest = max(rows, key=lambda r: len(json.dumps(r)))
    assert total <= BUDGET_BYTES, f"tools/list is {total} bytes; largest: {largest['name']}"


def _without(found: set[tuple[str, str, str]], moved: tuple[str, ...]) -> set[tuple[str, str, str]]:
    """Constraints outside the parts published by reference (another tool's request, the timeline resource)."""
    return {c for c in found if c[1] != "additionalProperties" and not any(
        c[0] == m or c[0].startswith(f"{m}.") for m in moved)}


async def test_slim_input_schemas_keep_every_field_and_constraint(client) -> None:
    """Every field of every request is listed with its enums, bounds and patterns; only the parts that
    are another tool's request (`generate`) or in the timeline resource are published by reference, and
    `additionalProperties: false` is left to the server (which refuses an unknown field by name)."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    moved = (".generate", ".timeline.clips.generate", ".timeline.titles", ".timeline.audio_bed")
    for name, model in (("generate_video", GenerateRequest), ("extend_video", ExtendRequest),
                        ("make_loop", LoopRequest), ("compose_timeline", ComposeRequest)):
        listed = _inline(tools[name].input_schema)["properties"]["request"]
        full = _inline(model.model_json_schema())
        assert set(listed["properties"]) == set(full["properties"]), name
        assert _without(_constraints(listed), moved) == _without(_constraints(full), moved), name
    timeline = _inline(tools["compose_timeline"].input_schema)["properties"]["request"]["properties"]["timeline"]
    assert timeline["properties"]["preset"]["enum"] == ["draft", "standard", "high", "premium"]
    assert "reelforge://timeline" in timeline["description"]
    assert "generate_video" in tools["estimate_cost"].input_schema["properties"]["request"]["description"]


async def test_timeline_resource_is_the_full_documented_schema(client) -> None:
    """What tools/list leaves out of the timeline (titles, audio bed, every description) is one read away."""
    listed = {str(r.uri) for r in (await client.list_resources()).resources}
    assert "reelforge://timeline" in listed
    schema = json.loads((await client.read_resource("reelforge://timeline")).contents[0].text)
    full = _inline(schema)
    assert full["properties"]["titles"]["items"]["properties"]["text"]["maxLength"] == 500
    assert "description" in full["properties"]["audio_bed"]["anyOf"][0]["properties"]["volume"]


async def test_slim_output_schemas_still_validate_real_results(client) -> None:
    """The client validates structured results against the listed output schema: a preview job passes."""
    result = await client.call_tool("generate_video", {"request": {
        "prompt": "a red ball", "provider": "preview", "duration_s": 1, "wait_seconds": 30}})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["job_id"] and "next_step" in result.structured_content
    quotes = await client.call_tool("estimate_cost", {"request": {"prompt": "x", "provider": "preview"}})
    assert not quotes.is_error and quotes.structured_content["quotes"][0]["usd"] == 0
