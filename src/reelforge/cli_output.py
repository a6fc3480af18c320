"""What the command line prints, and how: tables on a terminal, tab-separated lines on a pipe, `--json`.

On a pipe every line is whole (ids and paths never cut, no header), so `reelforge jobs | cut -f1`
gives ids to feed back; progress goes to stderr and only where someone watches it (a terminal);
results go to stdout. Cells are plain text, never Rich markup.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.jobs.job import Job
    from reelforge.studio.core import Studio
    from reelforge.studio.prepared import Prepared


def console(*, stderr: bool = False):
    from rich.console import Console

    # soft_wrap: a long path is never broken across lines (a terminal wraps it visually, a pipe not at all)
    return Console(soft_wrap=True, stderr=stderr)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def print_rows(headers: list[str], rows: list[list[str]], *, wide: tuple[int, ...] = ()) -> None:
    """A table on a terminal; tab-separated lines, whole and without a header, anywhere else.

    Cells are plain `Text`, never Rich markup (an install hint's "[local]" stays literal); the
    `wide` columns (ids, paths) are never cut short.
    """
    if not is_terminal():
        for row in rows:
            print("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(*headers)
    for i in wide:
        table.columns[i].no_wrap = True
        table.columns[i].overflow = "fold"
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console().print(table)


async def watch(studio: Studio, job_id: str, seconds: float) -> Job:
    """Wait up to `seconds` for a job, with a progress bar on a terminal's stderr (nothing on a pipe)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    err = console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        job = studio.store.require(job_id)
        task = bar.add_task(f"{job.id} {job.stage or job.status.value}", total=100,
                            completed=(job.progress or 0) * 100)

        async def on_change(j: Job) -> None:
            bar.update(task, completed=(j.progress or 0) * 100, description=f"{j.id} {j.stage or j.status.value}")

        return await studio.wait(job_id, seconds, on_change)


def print_job(job: Job, *, as_json: bool) -> None:
    """A job that ended (or is still running after a wait): its view as JSON, or a line or two."""
    from reelforge.studio.views import job_view

    view = job_view(job)
    if as_json:
        print_json(view.model_dump(mode="json"))
    elif view.output:
        print(f"done {view.output.path}  ({view.output.duration_s:.2f} s, {view.output.frames} frames)")
        print(f"poster: {view.output.poster_path}")
    elif not job.status.terminal:
        print(f"{job.status.value} {job.id}: {job.stage or 'still working'}")
    else:
        print(f"{job.status.value} {job.id}: [{job.error_code}] {job.error_message}")


def quote_view(prepared: Prepared) -> dict[str, Any]:
    """A prepared job's quote, as `--estimate` and a confirmation question print it."""
    return {"kind": prepared.kind, "what": prepared.what, "usd": prepared.quote_usd,
            "provider": prepared.provider, "model": prepared.model,
            "breakdown": (prepared.quote_detail or {}).get("breakdown"), "eta_s": prepared.eta_s,
            "notes": prepared.notes}


def print_quote(prepared: Prepared, *, as_json: bool, needs_confirmation: bool = False) -> None:
    view = quote_view(prepared)
    if as_json:
        print_json({**view, "needs_confirmation": needs_confirmation})
        return
    model = f"{view['provider']}/{view['model']}" if view["provider"] else "-"
    print_rows(["kind", "provider/model", "USD", "how"],
               [[view["kind"], model, f"{view['usd']:.2f}", view["breakdown"] or view["what"]]], wide=(1,))


def ask_for_confirmation(prepared: Prepared, refusal: Exception, *, as_json: bool) -> None:
    """A quote above the confirmation threshold: the quote on stdout, what to do on stderr (exit 6)."""
    print_quote(prepared, as_json=as_json, needs_confirmation=True)
    message = getattr(refusal, "message", str(refusal))
    sys.stderr.write(f"error: [confirmation_required] {message} Run again with --yes to approve it.\n")
