"""Style presets and the camera-move vocabulary, read from `styles.json` beside this module.

They are data so a new preset or camera word is an edit to one file, and so the `reelforge://styles`
resource shows exactly what the server applies. A style only ever fills what the request left
unset: a preset is a suggestion, never a reason to refuse a request.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from reelforge.catalog import ModelEntry
from reelforge.errors import InvalidRequest, UnsupportedParameter

Motion = Literal["low", "medium", "high"]
#: How the notes about what a style or a camera rewrite changed begin, so a quote can repeat them.
APPLIED_NOTE_PREFIXES = ("Style '", "camera_move '")


class Style(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    #: Appended to the prompt once.
    suffix: str
    fps: int | None = None
    aspect_ratio: str | None = None
    motion: Motion = "medium"


class StyleBook(BaseModel):
    """The whole data file, validated once: a typo in it fails at the first use, not mid-request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str
    styles: dict[str, Style]
    motion: dict[Motion, str]
    #: Model options that express motion intensity, by option name, for models whose catalog row lists them.
    motion_options: dict[str, dict[Motion, int]]
    camera_moves: dict[str, str]
    camera_aliases: dict[str, str]


@cache
def style_book() -> StyleBook:
    raw = json.loads(files("reelforge.studio").joinpath("styles.json").read_text(encoding="utf-8"))
    raw["styles"] = {name: {"name": name, **row} for name, row in raw["styles"].items()}
    return StyleBook.model_validate(raw)


def get_style(name: str | None) -> Style | None:
    if name is None:
        return None
    book = style_book()
    style = book.styles.get(name.strip().lower())
    if style is None:
        raise InvalidRequest(f"Unknown style '{name[:40]}'. Known styles: {', '.join(book.styles)}.", param="style",
                             hint="Pick one of these (reelforge://styles describes each), or leave style out.")
    return style


def suggested_format(style: Style | None, aspect: str | None, fps: int | None, model: ModelEntry,
                     notes: list[str]) -> tuple[str | None, int | None]:
    """The request's aspect ratio and fps, with the style's suggestions filling the unset ones where the
    model accepts them. A suggestion the model cannot take is left out with a note, never refused."""
    if style is None:
        return aspect, fps
    caps = model.capabilities
    chosen = {"aspect_ratio": aspect, "fps": fps}
    for field, offered, unit in (("aspect_ratio", caps.aspect_ratios, ""), ("fps", caps.fps, " fps")):
        suggested = getattr(style, field)
        if chosen[field] is not None or suggested is None:
            continue
        if suggested in offered:
            chosen[field] = suggested
            notes.append(f"Style '{style.name}' set {field} {suggested}.")
        else:
            notes.append(f"Style '{style.name}' suggests {field} {suggested}, which {model.key} does not render; "
                         f"the model's default {offered[0]}{unit} is used.")
    return chosen["aspect_ratio"], chosen["fps"]


def motion_options(style: Style | None, model: ModelEntry, options: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The request's options with the style's motion intensity as a model option, only where the model's
    catalog row documents such an option and the caller did not set it."""
    if style is None:
        return options
    listed = getattr(model.facts, "options", None) or []  # the facts' pass-through options, where a provider has them
    for option, values in style_book().motion_options.items():
        if option in listed and option not in options:
            options = {**options, option: values[style.motion]}
            notes.append(f"Style '{style.name}' set options.{option}={values[style.motion]} ({style.motion} motion).")
    return options


def camera_move_name(move: str) -> str:
    """The vocabulary's name for a camera move ('Dolly in' -> 'push_in'); refuses what is no camera move at all."""
    book = style_book()
    key = move.strip().lower().replace("-", "_").replace(" ", "_")
    key = book.camera_aliases.get(key, key)
    if key not in book.camera_moves:
        raise UnsupportedParameter(
            f"camera_move '{move}' is not a camera move reelforge knows. Known: {', '.join(book.camera_moves)}.",
            param="camera_move", hint="Use one of these, or describe the camera in the prompt.")
    return key


def native_camera_move(name: str, model: ModelEntry) -> str | None:
    """The model's own name for a vocabulary move (Luma 'static', MiniMax 'static_shot'), or None."""
    book = style_book()
    same = {name} | {alias for alias, target in book.camera_aliases.items() if target == name}
    return next((m for m in model.capabilities.camera_moves if m in same), None)


def camera_phrase(name: str) -> str:
    return style_book().camera_moves[name]


def is_applied_note(note: str) -> bool:
    """True for a note saying what a style or a camera rewrite changed in the request."""
    return note.startswith(APPLIED_NOTE_PREFIXES)


def styles_document() -> dict[str, Any]:
    """What `reelforge://styles` shows: the presets, the motion words, the camera vocabulary, the prompt shape."""
    book = style_book()
    return {
        "about": book.about,
        "styles": {name: style.model_dump(exclude={"name"}, exclude_none=True) for name, style in book.styles.items()},
        "motion": book.motion,
        "camera_moves": book.camera_moves,
        "camera_aliases": book.camera_aliases,
        "prompt_parts": "subject, action, setting, camera, style, lighting, details; built as "
                        "'Subject action, setting. Camera: … Style: … Lighting: … Details.' after any prompt.",
    }
