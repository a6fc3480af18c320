"""Check a request against a model's catalog entry and build the `GenerationSpec`.

Runs before any job row or request exists. An unsupported parameter is refused with a message
naming the parameter and what the model accepts; nothing is ever dropped silently. A camera move the
model cannot make natively is written into the prompt instead, with a note saying so.
"""

from __future__ import annotations

import random
from typing import Any

from reelforge.catalog import RESOLUTION_SHORT_EDGE, Catalog, ModelEntry
from reelforge.errors import InvalidRequest, ModelRetired, UnsupportedParameter
from reelforge.generation_spec import GenerationSpec, MediaRef, size_for
from reelforge.studio.characters import has_references
from reelforge.studio.prompt_builder import caller_text, finish
from reelforge.studio.styles import (
    camera_move_name,
    camera_phrase,
    get_style,
    motion_options,
    native_camera_move,
    suggested_format,
)
from reelforge.studio.tool_schemas import GenerationOptions


def _unsupported(model: ModelEntry, param: str, what: str, accepted: str) -> UnsupportedParameter:
    return UnsupportedParameter(
        f"{model.key} does not accept {param}={what}; it accepts {accepted}.",
        param=param,
        hint="Change the value, or pick another model with list_models.",
    )


def resolve_model(catalog: Catalog, provider: str, model_id: str | None) -> tuple[ModelEntry, list[str]]:
    """Find the model (default: the provider's first), following retirement redirects."""
    entry = catalog.providers.get(provider)
    if entry is None:
        known = ", ".join(sorted(catalog.providers))
        raise InvalidRequest(f"Unknown provider '{provider}'. Known: {known}.", param="provider")
    notes: list[str] = []
    if model_id is None:
        usable = [m for m in entry.models if m.status not in ("retired", "deprecated")]
        return (usable or entry.models)[0], notes
    model = catalog.find(provider, model_id)
    if model is None:
        known = ", ".join(m.id for m in entry.models)
        raise InvalidRequest(f"Unknown model '{model_id}' for {provider}. Models: {known}.", param="model")
    if model.status == "retired":
        if not model.replacement:
            raise ModelRetired(f"{model.key} is retired and has no replacement.", param="model")
        # A replacement is a model of the same provider, or "provider/model" at another one.
        other, _, repl_id = model.replacement.rpartition("/")
        repl = catalog.find(other or provider, repl_id)
        if repl is None:
            raise ModelRetired(f"{model.key} is retired; its replacement {model.replacement} is not in the catalog.", param="model")
        if repl.provider != provider:  # never a silent swap: another provider bills it
            notes.append(f"Warning: {model.key} is retired ({entry.title}); this request goes to {repl.key} instead, "
                         f"a different provider that bills it with its own key.")
        else:
            notes.append(f"{model.key} is retired; using its replacement {repl.key} instead.")
        model = repl
    elif model.status == "deprecated":
        notes.append(f"{model.key} is deprecated" + (f"; consider {model.replacement}." if model.replacement else "."))
    return model, notes


def input_kinds(first: MediaRef | None, last: MediaRef | None, video: MediaRef | None,
                references: bool = False) -> list[str]:
    """The request's input kinds, as the catalog's `capabilities.inputs` names them; `references`:
    reference images (characters, or images in options) ride along, so only models taking them fit."""
    kinds = []
    if video is not None:
        kinds.append("video")
    if first is not None and last is not None:
        kinds.append("first_last")
    elif first is not None:
        kinds.append("image")
    elif last is not None:
        kinds.append("last_only")
    if references:
        kinds.append("reference")
    if not kinds:
        kinds.append("text")
    return kinds


def _check_inputs(model: ModelEntry, kinds: list[str]) -> None:
    accepted = model.capabilities.inputs
    for kind in kinds:
        if kind == "last_only":
            raise InvalidRequest("last_image needs image (the first frame) too.", param="last_image")
        if kind not in accepted:
            param = {"image": "image", "first_last": "last_image", "video": "video", "text": "image",
                     "reference": "characters"}[kind]
            label = {"text": "text-only requests (give image)", "image": "a first-frame image",
                     "first_last": "first and last frames", "video": "a video input",
                     "reference": "reference images (characters or options)"}[kind]
            raise UnsupportedParameter(
                f"{model.key} does not accept {label}; it accepts: {', '.join(accepted)}.",
                param=param, hint="Pick another model with list_models.",
            )


def _check_files(model: ModelEntry, renders_here: bool, **refs: MediaRef | None) -> None:
    """Inputs that would fail only once the job runs are refused now, before any ledger row."""
    from reelforge.providers.input_files import check_image_file

    params = {"first_frame": "image", "last_frame": "last_image", "video": "video"}
    for name, ref in refs.items():
        if ref is None:
            continue
        if ref.kind == "url" and renders_here:  # a renderer on this machine reads files, never URLs
            raise InvalidRequest(
                f"{params[name]}: the {model.provider} provider renders from files on this machine, not URLs.",
                param=params[name], hint="Download the file into an allowed folder and pass its path.")
        if name != "video":
            check_image_file(ref, param=params[name])


def build_spec(
    opts: GenerationOptions,
    model: ModelEntry,
    *,
    renders_here: bool = False,
    first_frame: MediaRef | None = None,
    last_frame: MediaRef | None = None,
    video: MediaRef | None = None,
    loop: bool = False,
    continue_remote_id: str | None = None,
    continue_direction: str = "forward",
    default_duration: float | None = None,
    notes: list[str] | None = None,
) -> GenerationSpec:
    """The checked spec; what a style, the prompt parts or a camera rewrite changed is added to `notes`."""
    caps = model.capabilities
    notes = [] if notes is None else notes
    kinds = input_kinds(first_frame, last_frame, video if continue_remote_id is None else None,
                        has_references(opts))
    _check_inputs(model, kinds)
    _check_files(model, renders_here, first_frame=first_frame, last_frame=last_frame, video=video)

    # Only generate_video's request carries a style and prompt parts; extend and loop requests do not.
    style = get_style(getattr(opts, "style", None))
    text = caller_text(opts.prompt, getattr(opts, "prompt_parts", None), model)
    if not text and (caps.prompt_required or (kinds == ["text"] and continue_remote_id is None)):
        # Text-to-video from nothing renders nothing useful (and a paid model would bill for it). A
        # style's words or a camera phrase alone do not say what the clip shows.
        raise InvalidRequest(f"{model.key} needs a prompt: say what the clip shows.", param="prompt",
                             hint="Give a prompt, or an image to animate.")
    camera_move, phrase = _camera(opts.camera_move, model, notes)
    prompt = finish(text, model, camera=phrase, style=style, notes=notes)

    duration = opts.duration_s if opts.duration_s is not None else (default_duration or caps.durations.default)
    if not caps.durations.accepts(duration):
        if opts.duration_s is None and default_duration is not None:
            duration = caps.durations.default
        else:
            raise _unsupported(model, "duration_s", f"{duration:g}", caps.durations.describe())

    aspect, fps = suggested_format(style, opts.aspect_ratio, opts.fps, model, notes)
    aspect = aspect or caps.aspect_ratios[0]
    if aspect not in caps.aspect_ratios:
        raise _unsupported(model, "aspect_ratio", aspect, ", ".join(caps.aspect_ratios))
    resolution = (opts.resolution or caps.resolutions[0]).lower()
    if resolution not in [r.lower() for r in caps.resolutions]:
        raise _unsupported(model, "resolution", resolution, ", ".join(caps.resolutions))
    fps = fps or caps.fps[0]
    if fps not in caps.fps:
        raise _unsupported(model, "fps", str(fps), ", ".join(map(str, caps.fps)))

    seed = opts.seed
    if seed is not None and not caps.seed:
        raise _unsupported(model, "seed", str(seed), "no seed (results are not reproducible)")
    if seed is None and caps.seed and renders_here:
        seed = random.randrange(2**31)  # recorded in the receipt so the clip can be reproduced
    if opts.negative_prompt and not caps.negative_prompt:
        raise _unsupported(model, "negative_prompt", "…", "no negative prompt")
    if opts.audio and not caps.audio:
        raise _unsupported(model, "audio", "true", "silent output only")
    if loop and caps.loop == "keyframe" and first_frame is None:
        raise InvalidRequest(f"{model.key} loops by pinning one image at both ends: give image.", param="image")
    if loop and caps.loop == "none":
        raise _unsupported(model, "loop", "true", "no native loop (use make_loop, which loops any clip)")

    short = RESOLUTION_SHORT_EDGE.get(resolution, 720)
    width, height = size_for(aspect, short)
    extra: dict[str, Any] = motion_options(style, model, dict(opts.options), notes)
    return GenerationSpec(
        provider=model.provider, model=model.id, prompt=prompt, negative_prompt=opts.negative_prompt,
        duration_s=float(duration), aspect_ratio=aspect, resolution=resolution, width=width, height=height,
        fps=fps, seed=seed, first_frame=first_frame, last_frame=last_frame, video=video,
        continue_remote_id=continue_remote_id, continue_direction=continue_direction,  # type: ignore[arg-type]
        loop=loop, audio=opts.audio, camera_move=camera_move, extra=extra,
    )


def _camera(move: str | None, model: ModelEntry, notes: list[str]) -> tuple[str | None, str | None]:
    """(the move under the model's own name, or None; the phrase to write into the prompt, or None).

    A move the model makes natively is sent natively; one it cannot make is described in the prompt,
    which every text-taking model understands. Only a model that takes no text at all refuses it.
    """
    if not move:
        return None, None
    name = camera_move_name(move)
    native = native_camera_move(name, model)
    if native is not None:
        if native != move:
            notes.append(f"camera_move '{move}' is sent as {model.key}'s own '{native}'.")
        return native, None
    if model.capabilities.max_prompt_chars == 0:
        accepted = ", ".join(model.capabilities.camera_moves) or "no camera moves"
        raise _unsupported(model, "camera_move", move, f"{accepted}, and no prompt to describe the move in")
    phrase = camera_phrase(name)
    notes.append(f"camera_move '{move}': {model.key} has no such move natively, so it is written into the prompt "
                 f"as \"{phrase}\".")
    return None, phrase
