"""The command line's exit codes, and every failure as one `error: …` line: the contract scripts read.

| code | meaning |
|---|---|
| 0 | success: the job succeeded (or the listing, quote or cancel was done) |
| 1 | any other failure (a provider or media error before a job existed, a bug) |
| 2 | the request or an input is wrong (a flag, a file, an unknown job id); nothing ran |
| 3 | the job ran and failed (its error is printed) |
| 4 | the job is still running: `jobs wait --timeout` ran out first |
| 5 | the job was canceled (by `reelforge jobs cancel` or the cancel_job tool, from any process) |
| 6 | needs confirmation: the quote is above REELFORGE_CONFIRM_ABOVE_USD; run again with --yes |
| 7 | the outcome is unknown: a create's answer was lost, the provider may have charged; never resend, try `jobs recover` |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reelforge.errors import ReelforgeError

OK = 0
FAILURE = 1
BAD_REQUEST = 2
JOB_FAILED = 3
STILL_RUNNING = 4
CANCELED = 5
NEEDS_CONFIRMATION = 6
OUTCOME_UNKNOWN = 7
INTERRUPTED = 130

#: The `--help` epilog of every command that runs or watches a job (argparse keeps its lines with
#: RawDescriptionHelpFormatter).
EPILOG = """exit codes:
  0  success             3  the job failed            6  needs confirmation: rerun with --yes
  1  other failure       4  still running (timeout)   7  outcome unknown: do not resend; `jobs recover`
  2  bad request/input   5  the job was canceled      130 interrupted"""

#: A job's terminal status → its exit code; anything not terminal is still running.
_BY_STATUS = {"succeeded": OK, "failed": JOB_FAILED, "canceled": CANCELED, "unknown": OUTCOME_UNKNOWN}

#: Request fields as the command line spells them, for error messages.
FLAGS = {"prompt": "prompt", "duration_s": "--duration", "fps": "--fps", "seed": "--seed", "aspect_ratio": "--aspect",
         "resolution": "--resolution", "provider": "--provider", "model": "--model", "image": "--image",
         "last_image": "--last-image", "idempotency_key": "--idempotency-key", "negative_prompt": "--negative-prompt",
         "source.path": "CLIP", "source.job_id": "CLIP", "crossfade_s": "--crossfade", "repeat": "--repeat",
         "strategy": "--strategy", "direction": "--direction", "name": "--name",
         **{f"generate.{f}": flag for f, flag in (("prompt", "--prompt"), ("duration_s", "--duration"),
                                                  ("fps", "--fps"), ("seed", "--seed"), ("provider", "--provider"),
                                                  ("aspect_ratio", "--aspect"), ("resolution", "--resolution"))}}


def for_status(status: str) -> int:
    return _BY_STATUS.get(status, STILL_RUNNING)


def for_statuses(statuses: list[str]) -> int:
    """The worst of several jobs' codes (a script waiting on many sees any failure)."""
    codes = [for_status(s) for s in statuses]
    return max(codes, key=lambda c: (c != OK, c)) if codes else OK


def error_line(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for a failure raised before or instead of a job's end."""
    from pydantic import ValidationError

    from reelforge.errors import explain, to_tool_message, validation_text

    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:  # task groups wrap one error
        exc = exc.exceptions[0]
    if isinstance(exc, ValidationError):  # a flag, or a REELFORGE_* variable, named as the user wrote it
        return BAD_REQUEST, validation_text(exc, names=None if exc.title == "Settings" else FLAGS)
    explained = explain(exc)
    if explained is not None:
        return code_for_error(explained), " ".join(to_tool_message(explained).split())
    from reelforge.redact import redact

    return FAILURE, f"unexpected {type(exc).__name__}: {redact(' '.join(str(exc).split()))[:300]} (a bug: please report it)"


def code_for_error(exc: ReelforgeError) -> int:
    """A refusal's code: 2 for a wrong request, 6 for a quote awaiting approval, 1 for the rest."""
    from reelforge.errors import InvalidRequest

    if isinstance(exc, InvalidRequest) or exc.code == "job_not_found":
        return BAD_REQUEST
    return {"confirmation_required": NEEDS_CONFIRMATION, "canceled": CANCELED,
            "outcome_unknown": OUTCOME_UNKNOWN}.get(exc.code, FAILURE)
