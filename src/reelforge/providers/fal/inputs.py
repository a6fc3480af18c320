"""Shaping a request for one fal app from its catalog row: endpoint choice, checks, the input JSON.

Everything model-specific comes from `FalFacts`; this module only applies it. `check` runs in
`normalize` (before any job row or request exists) and refuses what the chosen endpoint cannot
take, naming the parameter; `build_input` turns the checked spec into the app's input object,
with local files already uploaded (the upload callable is the adapter's storage flow).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, UnsupportedParameter
from reelforge.providers.declaration import facts_of
from reelforge.providers.fal.facts import EndpointKind, FalFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef
    from reelforge.settings import Settings

#: A local input -> the URL fal can fetch it from (the storage upload).
Uploader = Callable[["MediaRef", str], Awaitable[str]]
REFERENCES = "references"
_LABELS = {"text": "a prompt only", "image": "a first frame (image)", "first_last": "first and last frames (last_image)",
           "reference": "reference images (options.references)"}
#: Spec attribute -> the tool parameter named in refusals.
_TOOL_PARAM = {"first_frame": "image", "last_frame": "last_image", "duration": "duration_s"}


def endpoint_kind(spec: GenerationSpec, facts: FalFacts) -> EndpointKind:
    """Which of the row's endpoints serves this request."""
    if spec.extra.get(REFERENCES) and facts.references is not None:
        return facts.references.kind
    if spec.last_frame is not None:
        return "first_last"
    if spec.first_frame is not None:
        return "image"
    return "text"


def check(spec: GenerationSpec, model: ModelEntry, settings: Settings) -> list[str]:
    """Refuse what the endpoint cannot take (naming the parameter); return notes on what fal decides."""
    facts = facts_of(model, FalFacts)
    _check_extra(spec, model, facts)
    kind = endpoint_kind(spec, facts)
    if kind not in facts.endpoints:
        offered = "; ".join(_LABELS[k] for k in facts.endpoints)
        param = {"text": "image", "image": "image", "first_last": "last_image", "reference": "options"}[kind]
        raise UnsupportedParameter(f"{model.key} takes {offered}; not {_LABELS[kind]}.", param=param)
    if spec.video is not None:
        raise UnsupportedParameter(f"{model.key} on fal takes no video input.", param="video")
    if spec.continue_remote_id:
        raise UnsupportedParameter("fal rows here have no native extend; extend uses the last frame.",
                                   param="continue_remote_id")
    if spec.camera_move:
        raise UnsupportedParameter(f"{model.key} takes no camera_move; describe the motion in the prompt.",
                                   param="camera_move")
    if facts.references is not None and facts.references.kind == "image" and kind == "image" and spec.first_frame is None:
        raise UnsupportedParameter(f"{model.key} takes references only with a first frame (image).", param="image")
    for name, value in (("aspect_ratio", spec.aspect_ratio), ("resolution", spec.resolution),
                        ("duration", f"{spec.duration_s:g}")):
        allowed = facts.limits.get(kind, {}).get(name)  # type: ignore[call-overload]
        if allowed is not None and value not in allowed:
            param = _TOOL_PARAM.get(name, name)
            raise UnsupportedParameter(f"{model.key} with {_LABELS[kind]} accepts {param} {', '.join(allowed)}.",
                                       param=param)
    given = {"prompt": bool(spec.prompt), "negative_prompt": bool(spec.negative_prompt),
             "seed": spec.seed is not None, "audio": bool(spec.audio)}
    for param, present in given.items():
        if present and facts.field(kind, param) is None:  # type: ignore[arg-type]
            raise UnsupportedParameter(f"{model.key} with {_LABELS[kind]} takes no {param}.", param=param)
    _resolve_references(spec, facts, settings)
    notes = []
    if facts.field(kind, "aspect_ratio") is None and kind != "text":
        notes.append(f"{model.key}: the aspect ratio follows the input image (the endpoint has no aspect_ratio).")
    if not facts.schema_verified:
        notes.append(f"{model.key}: this input schema is taken from third-party notes, not fal's own page.")
    return notes


def _check_extra(spec: GenerationSpec, model: ModelEntry, facts: FalFacts) -> None:
    allowed = list(facts.options) + ([REFERENCES] if facts.references is not None else [])
    unknown = sorted(set(spec.extra) - set(allowed))
    if unknown:
        raise UnsupportedParameter(
            f"{model.key} does not accept options {', '.join(unknown)}; it accepts {', '.join(allowed) or 'none'}.",
            param="options",
        )


def _resolve_references(spec: GenerationSpec, facts: FalFacts, settings: Settings) -> list[MediaRef]:
    """The `options.references` as vetted inputs (allowed folders, public URLs), within the row's limit."""
    raw = spec.extra.get(REFERENCES)
    if raw is None or facts.references is None:
        return []
    from reelforge.security import resolve_media

    items = raw if isinstance(raw, list) else None
    if not items or not all(isinstance(i, str) for i in items) or len(items) > facts.references.max:
        raise InvalidRequest(f"options.references must be a list of 1 to {facts.references.max} image paths or "
                             "https URLs.", param="options")
    return [resolve_media(item, settings, param="options.references", expected="image") for item in items]


def wire_duration(seconds: float, facts: FalFacts) -> str | int:
    whole = int(round(seconds))
    if facts.duration_format == "number":
        return whole
    return f"{whole}s" if facts.duration_format == "seconds_suffix" else str(whole)


async def build_input(spec: GenerationSpec, model: ModelEntry, settings: Settings,
                      upload: Uploader) -> tuple[str, dict[str, Any]]:
    """(endpoint id, the app's input JSON) for a checked spec; local files are uploaded here."""
    facts = facts_of(model, FalFacts)
    kind = endpoint_kind(spec, facts)
    body: dict[str, Any] = dict(facts.fixed)

    def put(param: str, value: Any) -> None:
        name = facts.field(kind, param)  # type: ignore[arg-type]
        if name is not None and value is not None:
            body[name] = facts.wire_values.get(param, {}).get(str(value), value)  # type: ignore[call-overload]

    put("prompt", spec.prompt or None)
    put("negative_prompt", spec.negative_prompt or None)
    put("seed", spec.seed)
    put("aspect_ratio", spec.aspect_ratio)
    put("resolution", spec.resolution)
    put("duration", wire_duration(spec.duration_s, facts))
    # Always explicit: fal apps default audio on, which changes the price the quote assumed.
    put("audio", bool(spec.audio))
    for param, ref in (("first_frame", spec.first_frame), ("last_frame", spec.last_frame)):
        if ref is not None:
            put(param, await upload(ref, _TOOL_PARAM[param]))
    refs = _resolve_references(spec, facts, settings)
    if refs and facts.references is not None:
        urls = [await upload(ref, "options.references") for ref in refs]
        key = facts.references.item_key
        body[facts.references.field] = [{key: u} for u in urls] if key else urls
    body.update({k: v for k, v in spec.extra.items() if k != REFERENCES})
    return facts.endpoints[kind], body
