"""`reelforge jobs`: list, show, `wait ID`, `cancel ID`, `recover [ID]`, on the ledger every server shares.

`wait` watches a job whichever process drives it (a server, a worker, another `reelforge generate`)
and exits with its outcome's code (4 when `--timeout` runs out first); `cancel` ends a job here or
in the process that drives it (that process stops it at its next lease round and exits 5);
`recover` finds again the generations whose create answer was lost (`studio/recover.py`) and
waits for what it found. Exit codes: `cli_exit.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import anyio

from reelforge.cli_exit import EPILOG, FAILURE, OK, for_status, for_statuses
from reelforge.cli_output import print_job, print_json, print_rows, watch
from reelforge.cli_studio import with_studio

ACTIONS = ("wait", "cancel", "recover")


def _status_filter(value: str | None) -> str | None:
    from reelforge.errors import InvalidRequest
    from reelforge.jobs.job import JobStatus

    known = [s.value for s in JobStatus]
    if value is not None and value not in known:  # a typo is not "no jobs"
        raise InvalidRequest(f"Unknown status '{value}'. Known: {', '.join(known)}.", param="status")
    return value


def _needs_id(args: argparse.Namespace) -> str:
    from reelforge.errors import InvalidRequest

    if not args.target:
        raise InvalidRequest(f"jobs {args.action} needs a job id (see `reelforge jobs`).", param="job_id")
    return args.target


def cmd_wait(args: argparse.Namespace) -> int:
    job_id = _needs_id(args)

    async def run(studio: Any) -> Any:
        studio.store.require(job_id)  # an unknown id is a bad request (2), not a wait
        return await watch(studio, job_id, args.timeout)

    job = anyio.run(with_studio, run)
    print_job(job, as_json=args.json)
    if not job.status.terminal:
        # A job whose driver stopped (a command line interrupted) waits for a server to resume it.
        orphan = (job.lease_until or 0) < time.time()
        hint = "; no live process drives it: `reelforge serve` or a worker on this home resumes it" if orphan else ""
        print(f"error: job {job.id} is still {job.status.value} after {args.timeout:g} s{hint}", file=sys.stderr)
    return for_status(job.status.value)


def cmd_cancel(args: argparse.Namespace) -> int:
    job_id = _needs_id(args)

    async def run(studio: Any) -> Any:
        return await studio.cancel(studio.store.require(job_id).id)

    job = anyio.run(with_studio, run)
    print_job(job, as_json=args.json)
    if job.status.value != "canceled":  # it had ended already: nothing was stopped
        print(f"error: job {job.id} had already ended {job.status.value}; nothing to cancel", file=sys.stderr)
        return FAILURE
    return OK


def cmd_recover(args: argparse.Namespace) -> int:
    """Find again the jobs whose create answer was lost (or one of them), wait for what was found."""
    from reelforge.studio.recover import lost_jobs, recover
    from reelforge.studio.views import job_view

    async def run(studio: Any) -> list[Any]:
        wanted = [args.target] if args.target else [job.id for job in lost_jobs(studio, since=0)]
        views = []
        for job_id in wanted:
            job = await recover(studio, job_id)
            if job.remote_id:
                job = await watch(studio, job_id, args.timeout)
            views.append(job_view(job).model_dump(mode="json"))
        return views

    views = anyio.run(with_studio, run)
    if args.json:
        print_json(views)
    else:
        for view in views:
            print(f"{view['job_id']}\t{view['status']}\t{(view.get('notes') or [''])[-1]}")
        if not views:
            print("(no lost jobs)", file=sys.stderr)
    return for_statuses([v["status"] for v in views])


def cmd_jobs(args: argparse.Namespace) -> int:
    from reelforge.jobs.store import JobStore
    from reelforge.settings import Settings
    from reelforge.studio.views import job_view

    if args.action in ACTIONS:
        return {"wait": cmd_wait, "cancel": cmd_cancel, "recover": cmd_recover}[args.action](args)
    status = _status_filter(args.status)
    store = JobStore.open(Settings())
    try:
        if args.action:  # `jobs ID`: one job, whole
            print_json(job_view(store.require(args.action)).model_dump(mode="json"))
            return OK
        jobs = store.list(status=status, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print_json([job_view(job).model_dump(mode="json") for job in jobs])
        return OK
    print_rows(["id", "kind", "status", "provider/model", "cost", "output"],
               [[job.id, job.kind, job.status.value, f"{job.provider or '-'}/{job.model or '-'}",
                 f"{job.cost_usd:.2f}" if job.cost_usd is not None else "-", job.outputs.get("path", "")]
                for job in jobs], wide=(0, 3, 5))
    return OK


def add_jobs_command(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="List jobs, show one, or `wait ID`, `cancel ID`, `recover [ID]`.",
                          epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    jobs.add_argument("action", nargs="?", metavar="ID|wait|cancel|recover",
                      help="A job to show; `wait ID`, `cancel ID`; `recover` to find lost creates again.")
    jobs.add_argument("target", nargs="?", metavar="ID", help="The job to wait for, cancel or recover "
                      "(recover: default every lost job).")
    jobs.add_argument("--status", help="List only jobs with this status.")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--timeout", type=float, default=24 * 3600.0, metavar="S",
                      help="wait/recover: give up waiting after this many seconds (exit 4 if still running).")
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(fn=cmd_jobs)
