"""Lean JSON schemas for `tools/list`: every conversation pays for them, so they carry only what
validates or what a model needs to act.

The published schema is documentation for the client: arguments are still validated by the tools'
pydantic models on the server. Input schemas keep every field with its enums, bounds, patterns and
`required`, and drop what pydantic adds for humans: a `title` on every property, non-choice
defaults, `$defs` indirection, and `null` as an accepted value of optional fields (omitting a field
is how a model asks for its default). Parts documented elsewhere are published by reference (see
SAME_AS, IN_RESOURCE). Output schemas are outlines: the fields to act on, with their types, nested
objects as plain objects; the result itself carries every field.
"""

from __future__ import annotations

from typing import Any

#: Output fields the outline names: the handle, where the result is, what to do next, the price. The
#: structured result always carries every field; the outline only names the ones to act on.
OUTPUT_FIELDS = frozenset({"job_id", "status", "output", "next_step", "jobs", "models", "quotes", "usd"})
#: In a list (quotes, jobs) each item also names what it is about.
ITEM_FIELDS = OUTPUT_FIELDS | {"provider", "model"}

#: Input properties whose nested field descriptions live in a resource instead (the tool's description
#: names it): the fields and constraints stay, the prose moves out of every conversation.
DOCUMENTED_ELSEWHERE = frozenset({"timeline"})
#: Timeline parts a first draft rarely needs, published as plain objects: their fields, bounds and
#: prose are in the reelforge://timeline resource (the full schema) and validated by the server.
IN_RESOURCE = frozenset({"titles", "audio_bed"})
#: Inputs that take another tool's request: published as an object naming that tool, whose schema is
#: already in the same list (the server validates them field by field), not as a second copy.
SAME_AS = {"generate": "generate_video's request fields.", "estimate_cost.request": "generate_video's request."}
#: Defaults stay only where they name a choice ('auto', 'standard', '16:9'); numeric and empty ones are
#: in the resource and applied by the server. `additionalProperties: false` is enforced by the server
#: (an unknown field is refused by name), so the published schema does not repeat it.
_DROPPED = frozenset({"title", "additionalProperties"})
_PROSE = frozenset({"description", "title", "default"})


def slim_input(schema: dict[str, Any], tool: str = "") -> dict[str, Any]:
    """The input schema with the noise removed: the same fields and constraints, every $ref inlined."""
    slim = _clean(_inline(schema, schema.get("$defs", {}), ()), keep_descriptions=True)
    request = slim.get("properties", {}).get("request")
    if isinstance(request, dict):  # the request class's docstring repeats the tool's description
        request.pop("description", None)
        if f"{tool}.request" in SAME_AS:
            slim["properties"]["request"] = {"type": "object", "description": SAME_AS[f"{tool}.request"]}
    return slim


def slim_output(schema: dict[str, Any]) -> dict[str, Any]:
    """The output schema's outline: top-level fields with types; array items one level deep."""
    return _outline(_inline(schema, schema.get("$defs", {}), ()), depth=0)


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen or name not in defs:  # recursive: keep the reference (never in our models)
            return node
        target = _inline(defs[name], defs, (*seen, name))
        rest = {k: _inline(v, defs, seen) for k, v in node.items() if k != "$ref"}
        return {**target, **rest}
    return {k: _inline(v, defs, seen) for k, v in node.items() if k != "$defs"}


def _clean(node: Any, *, keep_descriptions: bool) -> Any:
    if isinstance(node, list):
        return [_clean(item, keep_descriptions=keep_descriptions) for item in node]
    if not isinstance(node, dict):
        return node
    node = _drop_null(node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or (key == "default" and not isinstance(value, str)):
            continue
        if key == "type" and "enum" in node:  # the enum already says which values (and so which type)
            continue
        if key == "description" and not keep_descriptions:
            continue
        if key == "properties":
            out[key] = {name: _property(name, sub, keep_descriptions) for name, sub in value.items()}
        else:
            out[key] = _clean(value, keep_descriptions=keep_descriptions)
    return out


def _property(name: str, sub: Any, keep_descriptions: bool) -> Any:
    if name in SAME_AS:
        return {"type": "object", "description": SAME_AS[name]}
    if name in IN_RESOURCE and isinstance(sub, dict):
        node = _drop_null(sub)
        if "items" in node:
            bounds = {k: v for k, v in node.items() if k in ("minItems", "maxItems")}
            return {"type": "array", "items": {"type": "object"}, **bounds, "description": "See reelforge://timeline."}
        return {"type": "object", "description": "See reelforge://timeline."}
    if not keep_descriptions or name not in DOCUMENTED_ELSEWHERE or not isinstance(sub, dict):
        return _clean(sub, keep_descriptions=keep_descriptions)
    bare = _clean(sub, keep_descriptions=False)  # the property keeps its own one-line description
    return {**bare, "description": sub["description"]} if "description" in sub else bare


def _drop_null(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, {type: null}]` → X (merged with the outer keywords); `null` out of enums."""
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = options[0] if options[1] == {"type": "null"} else options[1]
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        if isinstance(other, dict) and all(k in _PROSE for k in outer.keys() & other.keys()):
            node = {**other, **outer}  # the field's own description wins over its class docstring
    if isinstance(node.get("enum"), list) and None in node["enum"]:
        node = {**node, "enum": [v for v in node["enum"] if v is not None]}
    return node


def _outline(node: dict[str, Any], depth: int, fields: frozenset[str] = OUTPUT_FIELDS) -> dict[str, Any]:
    node = _type_of(node)
    out: dict[str, Any] = {"type": node.get("type", "object")}
    if depth > 0 or "properties" not in node and "items" not in node:
        return out
    if "items" in node:
        out["items"] = _outline(node["items"], depth, ITEM_FIELDS)
        return out
    props = {}
    required = node.get("required", [])
    for name, sub in node["properties"].items():
        if name not in fields:
            continue
        sub = _type_of(sub)
        if "items" in sub:  # a list of views (list_jobs, estimate_cost): each item outlined like the top
            brief = {"type": sub.get("type", "array"), "items": _outline(sub["items"], depth, ITEM_FIELDS)}
        else:
            brief = _outline(sub, depth + 1)
        props[name] = brief
    out["properties"] = props
    if any(name in props for name in required):
        out["required"] = [name for name in required if name in props]
    return out


def _type_of(node: dict[str, Any]) -> dict[str, Any]:
    """A nullable union as one node with a type list, so the outline stays honest about null."""
    options = node.get("anyOf")
    if not isinstance(options, list):
        return node
    types: list[str] = []
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "anyOf"}
    for option in options:
        t = option.get("type", "object")
        types.extend(t if isinstance(t, list) else [t])
        merged.update({k: v for k, v in option.items() if k != "type"})
    merged["type"] = types[0] if len(types) == 1 else types
    return merged
