"""The prompt a model receives: the caller's text, the structured parts, a camera move spelled out, the
style's motion words and suffix, in that fixed order.

Deterministic on purpose: the same request builds the same text, so a quote, a retry and a receipt
all describe the prompt that was sent. Every length refusal names the field that pushed the prompt
past the model's limit, since that is the one the caller should shorten.
"""

from __future__ import annotations

from reelforge.catalog import ModelEntry
from reelforge.errors import InvalidRequest
from reelforge.studio.styles import Style, style_book
from reelforge.studio.tool_schemas import PromptParts

_LABELLED = (("camera", "Camera"), ("style", "Style"), ("lighting", "Lighting"))


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if not text or text[-1] in ".!?" else text + "."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def join_sentences(*pieces: str | None) -> str:
    return " ".join(_sentence(p) for p in pieces if p and p.strip())


def parts_text(parts: PromptParts | None) -> str:
    """'Subject action, setting. Camera: … Style: … Lighting: … Details.'"""
    if parts is None:
        return ""
    scene = " ".join(p.strip() for p in (parts.subject, parts.action) if p and p.strip())
    if parts.setting and parts.setting.strip():
        scene = f"{scene}, {parts.setting.strip()}" if scene else parts.setting.strip()
    labelled = [f"{label}: {getattr(parts, name).strip()}" for name, label in _LABELLED
                if getattr(parts, name) and getattr(parts, name).strip()]
    return join_sentences(_capital(scene), *labelled, _capital((parts.details or "").strip()))


def caller_text(prompt: str, parts: PromptParts | None, model: ModelEntry) -> str:
    """The caller's own words: `prompt` first, then the parts. Refused past the model's limit."""
    text = join_sentences(prompt.strip(), parts_text(parts)) if parts is not None else prompt.strip()
    _check_length(text, model, "prompt_parts" if parts is not None and len(prompt.strip()) <= _limit(model)
                  else "prompt")
    return text


def finish(text: str, model: ModelEntry, *, camera: str | None, style: Style | None, notes: list[str]) -> str:
    """The caller's text with the camera phrase, motion words and style suffix added, each once."""
    if camera:
        text = join_sentences(text, _capital(camera))
        _check_length(text, model, "camera_move")
    if style is None:
        return text
    if _limit(model) == 0:  # the model takes no text: the style's words have nowhere to go
        notes.append(f"Style '{style.name}' adds no words: {model.key} takes no prompt.")
        return text
    words = [w for w in (style_book().motion[style.motion], style.suffix) if w.lower() not in text.lower()]
    if words:
        text = join_sentences(text, _capital(", ".join(words)))
        _check_length(text, model, "style")
    notes.append(f"Style '{style.name}' added to the prompt: \"{', '.join(words) or 'already present'}\".")
    return text


def _limit(model: ModelEntry) -> int:
    return model.capabilities.max_prompt_chars


def _check_length(text: str, model: ModelEntry, param: str) -> None:
    if len(text) > _limit(model):
        what = "prompt" if param == "prompt" else f"The prompt with {param}"
        raise InvalidRequest(
            f"{what} is {len(text)} characters; {model.key} takes at most {_limit(model)}.", param=param,
            hint="Shorten the prompt or its parts." if param in ("prompt", "prompt_parts")
            else f"Shorten the prompt, or leave out {param}.")
