"""`reelforge generate | extend | loop | compose | estimate`: the work tools on the command line, in-process.

Each command builds the very request object its MCP tool takes (`studio/tool_schemas.py`), so a
wrong value reads the same in both places (named by its flag here), and starts it through
`OPERATIONS[kind]`, the tools' own path: prepare, budget and confirmation, ledger row, runner.
A quote above the confirmation threshold is printed and the command exits 6 until run with `--yes`;
`--estimate` prints the quote and starts nothing. Exit codes: `cli_exit.py`.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import anyio

from reelforge.cli_exit import EPILOG, NEEDS_CONFIRMATION, OK, for_status
from reelforge.cli_output import ask_for_confirmation, print_job, print_json, print_quote, print_rows, watch
from reelforge.cli_studio import NeedsConfirmation, open_cli_studio, start_work, with_studio

#: A finished job's wait: the command line stays until its own job ends (Ctrl-C stops waiting).
_WAIT_S = 24 * 3600.0


# -- requests, built as the tools build them ------------------------------------------------------------
def _model_fields(args: argparse.Namespace) -> dict[str, Any]:
    return {"provider": args.provider, "model": args.model, "duration_s": args.duration, "aspect_ratio": args.aspect,
            "resolution": args.resolution, "fps": args.fps, "seed": args.seed,
            "negative_prompt": args.negative_prompt}


def _call_fields(args: argparse.Namespace) -> dict[str, Any]:
    return {"confirm": getattr(args, "confirm", False), "idempotency_key": getattr(args, "idempotency_key", None)}


def clip_source(value: str) -> dict[str, str]:
    """A CLIP argument: a job id (`job_…`, when no file has that name) or a video file."""
    return {"job_id": value} if value.startswith("job_") and not Path(value).exists() else {"path": value}


def _clip_roots(value: str | None) -> list[Path]:
    source = clip_source(value) if value else {}
    return [Path(source["path"]).expanduser().absolute().parent] if "path" in source else []


def generate_request(args: argparse.Namespace):
    from reelforge.studio.tool_schemas import GenerateRequest

    return GenerateRequest(prompt=args.prompt, image=args.image, last_image=args.last_image, loop=args.loop,
                           characters=args.character, **_model_fields(args), **_call_fields(args))


def extend_request(args: argparse.Namespace):
    from reelforge.studio.tool_schemas import ExtendRequest

    return ExtendRequest(prompt=args.prompt or "", source=clip_source(args.clip), direction=args.direction,
                         **_model_fields(args), **_call_fields(args))


def loop_request(args: argparse.Namespace):
    from reelforge.errors import InvalidRequest
    from reelforge.studio.tool_schemas import LoopRequest

    model = _model_fields(args)
    if (args.clip is None) == (args.prompt is None):
        raise InvalidRequest("Give a CLIP (a video file or a job id) to loop, or --prompt to generate a looping "
                             "clip; exactly one of them.", param="clip")
    fields: dict[str, Any] = {"strategy": args.strategy, "crossfade_s": args.crossfade, "repeat": args.repeat,
                              **_call_fields(args)}
    if args.clip is not None:
        given = [flag for flag, value in (("--provider", args.provider != "auto"), ("--image", args.image),
                                          *((f, model[k] is not None) for f, k in (("--model", "model"),
                                                                                   ("--duration", "duration_s"))))
                 if value]
        if given:  # silently ignored flags would be a surprise: they shape a generation only
            raise InvalidRequest(f"{', '.join(given)}: only with --prompt (looping a CLIP generates nothing).",
                                 param="clip")
        return LoopRequest(source=clip_source(args.clip), **fields)
    return LoopRequest(generate={"prompt": args.prompt, **model}, image=args.image, **fields)


def compose_request(args: argparse.Namespace):
    """FILE.json (a timeline, or `{"timeline": …, "name": …}`) or FILE.otio, as compose_timeline takes it."""
    from reelforge.errors import InvalidRequest
    from reelforge.studio.tool_schemas import ComposeRequest

    path = Path(args.file).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".otio":
        data: dict[str, Any] = {"timeline": {"otio_path": str(path.absolute())}}
    elif suffix == ".json":
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidRequest(f"{args.file}: cannot be read ({exc.strerror}).", param="file") from None
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{args.file}: is not JSON ({exc.msg}, line {exc.lineno}).", param="file") from None
        data = loaded if isinstance(loaded, dict) and "timeline" in loaded else {"timeline": loaded}
        # Paths in the file mean what they say where the file is, whichever folder the command runs in.
        data["timeline"] = _anchored(data["timeline"], path.absolute().parent)
    else:
        raise InvalidRequest(f"{args.file}: expected a .json timeline or an .otio file.", param="file")
    stem = path.stem if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", path.stem) else None
    name = args.name or data.get("name") or stem  # the output is named after the file by default
    return ComposeRequest.model_validate({**data, **({"name": name} if name else {}), **_call_fields(args)})


#: Timeline fields (at any depth: clips, inline generations, the audio bed) that name a local file.
_PATH_FIELDS = frozenset({"path", "otio_path", "subtitles_path", "image", "last_image", "video"})


def _anchored(value: Any, base: Path, key: str | None = None) -> Any:
    """`value` with every relative file path in a path field made absolute against `base`."""
    if isinstance(value, dict):
        return {k: _anchored(v, base, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_anchored(v, base, key) for v in value]
    if key in _PATH_FIELDS and isinstance(value, str) and value and "://" not in value:
        local = Path(value).expanduser()
        return value if local.is_absolute() else str(base / local)
    return value


# -- running them ---------------------------------------------------------------------------------------
def run_work(kind: str, request: Any, args: argparse.Namespace, roots: list[Path] | None = None) -> int:
    """Quote (`--estimate`), or start the job on the tools' path and watch it to its end."""
    from reelforge.errors import ReelforgeError
    from reelforge.jobs.job import Job

    async def run(studio: Any) -> Any:
        started = await start_work(studio, kind, request, estimate=args.estimate)
        return await watch(studio, started.id, _WAIT_S) if isinstance(started, Job) else started

    outcome = anyio.run(with_studio, run, roots or [])
    if isinstance(outcome, NeedsConfirmation):  # the price needs the user's yes: show it, say how to give it
        ask_for_confirmation(outcome.prepared, outcome.refusal, as_json=args.json)
        return NEEDS_CONFIRMATION
    if isinstance(outcome, ReelforgeError):
        raise outcome
    if not isinstance(outcome, Job):
        print_quote(outcome, as_json=args.json)
        return OK
    print_job(outcome, as_json=args.json)
    return for_status(outcome.status.value)


def cmd_generate(args: argparse.Namespace) -> int:
    return run_work("generate", generate_request(args), args)  # a bad flag is one error line before any studio


def cmd_extend(args: argparse.Namespace) -> int:
    return run_work("extend", extend_request(args), args, _clip_roots(args.clip))


def cmd_loop(args: argparse.Namespace) -> int:
    return run_work("loop", loop_request(args), args, _clip_roots(args.clip))


def cmd_compose(args: argparse.Namespace) -> int:
    request = compose_request(args)
    return run_work("compose", request, args, [Path(args.file).expanduser().absolute().parent])


def cmd_estimate(args: argparse.Namespace) -> int:
    from reelforge.studio.generate import estimate

    request = generate_request(args)
    studio = open_cli_studio()
    try:
        quotes, routed = estimate(studio, request, compare=args.compare)
    finally:
        anyio.run(studio.aclose)
    if args.json:
        print_json([q.model_dump(mode="json") for q in quotes])
        return OK
    print_rows(["provider/model", "USD", "how", "source (as of)"],
               [[f"{q.provider}/{q.model}", f"{q.usd:.2f}" + (" ~" if q.estimate else ""), q.breakdown,
                 f"{q.source} ({q.as_of})"] for q in quotes], wide=(0,))
    for key, reason in routed.excluded if routed else []:
        print(f"excluded {key}: {reason}")
    return OK


# -- parsers --------------------------------------------------------------------------------------------
def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", default="auto", help="'auto', 'preview' (free, offline) or see `reelforge models`.")
    p.add_argument("--model")
    p.add_argument("--duration", type=float, metavar="S", help="Seconds; one the model accepts.")
    p.add_argument("--aspect", help="e.g. 16:9")
    p.add_argument("--resolution", help="e.g. 720p")
    p.add_argument("--fps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--negative-prompt", dest="negative_prompt")


def _call_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-y", "--yes", "--confirm", dest="confirm", action="store_true",
                   help="Approve a quoted cost above the confirmation threshold (REELFORGE_CONFIRM_ABOVE_USD).")
    p.add_argument("--idempotency-key", dest="idempotency_key", help="Same key: the same job, never paid twice.")
    p.add_argument("--estimate", action="store_true", help="Print the quote; start nothing.")
    p.add_argument("--json", action="store_true", help="Print the job (or quote) as JSON.")


def _generate_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", help="What the clip shows.")
    _model_flags(p)
    p.add_argument("--image", help="First frame (path inside an allowed folder, or https URL).")
    p.add_argument("--last-image", dest="last_image")
    p.add_argument("--loop", action="store_true", help="Ask the model for a native seamless loop.")
    p.add_argument("--character", action="append", help="A saved character (repeatable; `reelforge characters`).")


def add_work_commands(sub: Any) -> None:
    work = {"epilog": EPILOG, "formatter_class": argparse.RawDescriptionHelpFormatter}
    gen = sub.add_parser("generate", help="Generate a clip (the generate_video tool).", **work)
    _generate_flags(gen)
    _call_flags(gen)
    gen.set_defaults(fn=cmd_generate)

    ext = sub.add_parser("extend", help="Continue a clip (the extend_video tool).", **work)
    ext.add_argument("clip", metavar="CLIP", help="A video file, or the id of a finished job.")
    ext.add_argument("prompt", nargs="?", help="What happens next (default: more of the same).")
    _model_flags(ext)
    ext.add_argument("--direction", choices=["forward", "backward"], default="forward",
                     help="backward: native extend only.")
    _call_flags(ext)
    ext.set_defaults(fn=cmd_extend)

    loop = sub.add_parser("loop", help="Make a seamless loop of a clip, or generate one with --prompt (make_loop).",
                          **work)
    loop.add_argument("clip", metavar="CLIP", nargs="?", help="A video file, or the id of a finished job.")
    loop.add_argument("--prompt", help="Generate a new looping clip instead (with the model flags).")
    loop.add_argument("--image", help="With --prompt: the first frame.")
    loop.add_argument("--strategy", choices=["auto", "search", "crossfade", "pingpong", "native"], default="auto")
    loop.add_argument("--crossfade", type=float, metavar="S", help="Seconds of tail-into-head crossfade.")
    loop.add_argument("--repeat", type=int, default=1, metavar="N", help="Play the loop this many times in the file.")
    _model_flags(loop)
    _call_flags(loop)
    loop.set_defaults(fn=cmd_loop)

    comp = sub.add_parser("compose", help="Render a timeline: FILE.json (docs/timeline.md) or FILE.otio.", **work)
    comp.add_argument("file", metavar="FILE", help="A .json timeline (or {timeline, name}), or an .otio file.")
    comp.add_argument("--name", help="Output name (default: the file's name).")
    _call_flags(comp)
    comp.set_defaults(fn=cmd_compose)

    est = sub.add_parser("estimate", help="Quote a generation before paying (extend, loop, compose, batch: "
                         "their --estimate).", **work)
    _generate_flags(est)
    est.add_argument("--compare", action="store_true", help="Rank every eligible provider and model.")
    est.add_argument("--json", action="store_true")
    est.set_defaults(fn=cmd_estimate)
