"""`reelforge batch FILE.json`: the generate_batch tool on the command line, in-process.

FILE holds a JSON list of generate requests, `{"items": [...]}`, or the compare form
`{"prompt", "providers_or_models", "seed", "shared"}` (also accepted as `{"compare": {...}}`).
`--reel side_by_side|sequential` also composes the succeeded clips into one labelled reel.
Progress goes to stderr, one line per change; the result to stdout (`--json` for the whole view).
Exit codes: 0 every item succeeded, 1 some failed (or the batch did), 2 refused before anything ran,
6 the total is above the confirmation threshold (the quote is printed; run again with --yes);
`--estimate` prints the total quote and starts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from reelforge.cli_exit import EPILOG, NEEDS_CONFIRMATION, OK
from reelforge.cli_output import ask_for_confirmation, print_quote
from reelforge.cli_studio import NeedsConfirmation, start_work

#: How the command line runs a coroutine against a serving studio (cli.py's `_with_studio`).
WithStudio = Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


def add_batch_command(sub: Any, with_studio: WithStudio) -> None:
    p = sub.add_parser("batch", help="Run many generations (or one prompt across providers) under one quote.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="JSON: a list of generate requests, or {prompt, providers_or_models, seed}.")
    p.add_argument("--concurrency", type=int, default=4, help="Items running at once per provider.")
    p.add_argument("--reel", choices=("side_by_side", "sequential"),
                   help="Also compose the succeeded clips into one labelled reel (side_by_side: at most 9 items).")
    p.add_argument("-y", "--yes", "--confirm", dest="confirm", action="store_true",
                   help="Approve a quoted total above the threshold.")
    p.add_argument("--estimate", action="store_true", help="Print the total quote; start nothing.")
    p.add_argument("--idempotency-key", dest="idempotency_key")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=lambda args: cmd_batch(args, with_studio))


def read_request(path: str, args: argparse.Namespace) -> Any:
    """The batch request FILE describes, with the command's call options."""
    from reelforge.errors import InvalidRequest
    from reelforge.studio.tool_schemas import BatchRequest

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRequest(f"{path}: cannot be read ({exc.strerror}).", param="file") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{path}: is not JSON ({exc.msg}, line {exc.lineno}).", param="file") from None
    if isinstance(data, dict) and "providers_or_models" in data:
        data = {"compare": data}
    elif isinstance(data, list):
        data = {"items": data}
    if not isinstance(data, dict) or not ({"items", "compare"} & data.keys()):
        raise InvalidRequest(f"{path}: expected a list of generate requests or {{prompt, providers_or_models, seed}}.",
                             param="file")
    options = {"concurrency": args.concurrency, "confirm": args.confirm, "idempotency_key": args.idempotency_key}
    if args.reel is not None:  # the option wins over a `reel` in the file; without it the file's stands
        options["reel"] = args.reel
    return BatchRequest.model_validate({**data, **options})


def cmd_batch(args: argparse.Namespace, with_studio: WithStudio) -> int:
    from reelforge.errors import ReelforgeError, to_tool_message
    from reelforge.jobs.job import Job
    from reelforge.studio.batch import item_rows
    from reelforge.studio.prepared import Prepared
    from reelforge.studio.views import job_view

    request = read_request(args.file, args)  # a bad file is one error line (exit 2) before the studio starts

    async def run(studio: Any) -> Any:
        job = await start_work(studio, "batch", request, estimate=args.estimate)
        if not isinstance(job, Job):  # a quote, a question, or a refusal: nothing ran
            return job
        said = ""

        async def on_change(j: Any) -> None:
            nonlocal said
            line = f"{j.id} {j.stage or j.status.value}"
            if line != said:
                said = line
                print(line, file=sys.stderr, flush=True)

        job = await studio.wait(job.id, 24 * 3600, on_change)
        return job, item_rows(studio, job)

    outcome = anyio.run(with_studio, run)
    if isinstance(outcome, Prepared):
        print_quote(outcome, as_json=args.json)
        return OK
    if isinstance(outcome, NeedsConfirmation):
        ask_for_confirmation(outcome.prepared, outcome.refusal, as_json=args.json)
        return NEEDS_CONFIRMATION
    if isinstance(outcome, ReelforgeError):
        sys.stderr.write(f"error: {' '.join(to_tool_message(outcome).split())}\n")
        return 2
    job, rows = outcome
    if args.json:
        view = job_view(job).model_dump(mode="json")
        view["batch"] = {"sheet_path": job.outputs.get("sheet_path"), "reel_path": job.outputs.get("reel_path"),
                         "items": rows}
        print(json.dumps(view, indent=2, default=str, ensure_ascii=False))
    else:
        for row in rows:
            cost = "" if row.get("cost_usd") is None else f"${row['cost_usd']:.2f}"
            print("\t".join(str(x) for x in (row["index"], row["status"], f"{row['provider']}/{row['model']}", cost,
                                              row.get("time_s", ""), row.get("job_id") or "", row.get("error", ""))))
        print(f"sheet\t{job.outputs.get('sheet_path') or ''}" if job.status.value == "succeeded"
              else f"{job.status.value}\t{job.id}\t[{job.error_code}] {job.error_message}")
        if job.outputs.get("reel_path"):
            print(f"reel\t{job.outputs['reel_path']}")
    return 0 if job.status.value == "succeeded" and all(r["status"] == "succeeded" for r in rows) else 1
