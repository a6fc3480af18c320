"""The `reelforge` command: serve, demo, generate, batch, estimate, jobs, models, doctor, usage, users.

`generate` and `estimate` run the same studio code path as the MCP tools, in-process; `demo` drives
the real server through a real MCP client session over stdio. Human output goes to stdout here
(the CLI is not the stdio wire; `serve` never prints).

Output survives a pipe: on a terminal, tables; otherwise tab-separated lines with whole ids and
paths and no header (`reelforge jobs | cut -f1` gives ids to feed back); `--json` everywhere.
Every failure is one `error: …` line on stderr and a non-zero exit (2: the request or input is
wrong, 1: anything else), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio

from reelforge.cli_batch import add_batch_command
from reelforge.cli_setup import add_setup_command
from reelforge.cli_team import add_team_commands


def _console():
    from rich.console import Console

    # soft_wrap: a long path is never broken across lines (a terminal wraps it visually, a pipe not at all)
    return Console(soft_wrap=True)


def _is_terminal() -> bool:
    return sys.stdout.isatty()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _print_rows(headers: list[str], rows: list[list[str]], *, wide: tuple[int, ...] = ()) -> None:
    """A table on a terminal; tab-separated lines, whole and without a header, anywhere else.

    Cells are plain `Text`, never Rich markup (an install hint's "[local]" stays literal); the
    `wide` columns (ids, paths) are never cut short.
    """
    if not _is_terminal():
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
    _console().print(table)


# -- serve -----------------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import os

    level = os.environ.get("REELFORGE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from reelforge.logs import install_log_redaction

    if args.queue:  # read with the other settings when the studio starts
        os.environ["REELFORGE_QUEUES"] = ",".join(args.queue)
    if args.transport == "stdio":
        from reelforge.server import build_server

        # Keys, tokens and signed URLs never reach a log line (ours, httpx's); the settings' own
        # secrets are added when the studio reads them, after the handshake (start-up stays light).
        install_log_redaction(read_environment=False)
        build_server().run()
        return 0
    from reelforge.http_app import run_http
    from reelforge.settings import Settings

    settings = Settings()
    install_log_redaction(settings)
    return run_http(settings, host=args.host, port=args.port)


# -- in-process studio helpers -------------------------------------------------------------------------
def _cli_settings():
    """Settings for command-line use: the working directory is an allowed input folder too."""
    from reelforge.settings import Settings

    settings = Settings()
    return settings.model_copy(update={"allowed_input_roots": [*settings.allowed_input_roots, Path.cwd()]})


async def _with_studio(fn):
    from reelforge.studio.operations import open_studio

    # The command line runs its own jobs only, at once: it takes no other process's work from a queue.
    studio = open_studio(_cli_settings().model_copy(update={"queues": "none"}), resume=False)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(studio.runner.serve)
            try:
                return await fn(studio)
            finally:
                tg.cancel_scope.cancel()
    finally:
        await studio.aclose()


def _generate_request(args: argparse.Namespace):
    from reelforge.studio.tool_schemas import GenerateRequest

    return GenerateRequest(
        prompt=args.prompt, provider=args.provider, model=args.model, duration_s=args.duration,
        aspect_ratio=args.aspect, resolution=args.resolution, fps=args.fps, seed=args.seed,
        image=args.image, last_image=args.last_image, loop=args.loop, confirm=getattr(args, "confirm", False),
        characters=args.character,
        idempotency_key=getattr(args, "idempotency_key", None),
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from reelforge.errors import ReelforgeError
    from reelforge.studio.operations import OPERATIONS
    from reelforge.studio.views import job_view

    request = _generate_request(args)  # checked before the studio starts: a bad flag is one error line
    progress_console = Console(stderr=True)  # progress on stderr, and only where someone watches it

    async def run(studio) -> Any:
        try:
            job = await OPERATIONS["generate"].start(studio, request)
        except ReelforgeError as exc:  # returned, not raised: the task group would wrap it in an ExceptionGroup
            return exc
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeElapsedColumn(), console=progress_console, transient=True,
                      disable=not progress_console.is_terminal) as bar:
            task = bar.add_task(f"{job.id} queued", total=100)

            async def on_change(j) -> None:
                bar.update(task, completed=(j.progress or 0) * 100, description=f"{j.id} {j.stage or j.status.value}")

            return await studio.wait(job.id, 24 * 3600, on_change)

    job = anyio.run(_with_studio, run)
    if isinstance(job, ReelforgeError):
        raise job
    view = job_view(job)
    if args.json:
        _print_json(view.model_dump(mode="json"))
    elif view.output:
        print(f"done {view.output.path}  ({view.output.duration_s:.2f} s, {view.output.frames} frames)")
        print(f"poster: {view.output.poster_path}")
    else:
        print(f"{job.status.value} {job.id}: [{job.error_code}] {job.error_message}")
    return 0 if job.status.value == "succeeded" else 1


def cmd_estimate(args: argparse.Namespace) -> int:
    from reelforge.studio.generate import estimate
    from reelforge.studio.operations import open_studio

    request = _generate_request(args)
    # The command line runs its own jobs only, at once: it takes no other process's work from a queue.
    studio = open_studio(_cli_settings().model_copy(update={"queues": "none"}), resume=False)
    try:
        quotes, routed = estimate(studio, request, compare=args.compare)
    finally:
        studio.store.close()
    if args.json:
        _print_json([q.model_dump(mode="json") for q in quotes])
        return 0
    _print_rows(["provider/model", "USD", "how", "source (as of)"],
                [[f"{q.provider}/{q.model}", f"{q.usd:.2f}" + (" ~" if q.estimate else ""), q.breakdown,
                  f"{q.source} ({q.as_of})"] for q in quotes], wide=(0,))
    for key, reason in routed.excluded if routed else []:
        print(f"excluded {key}: {reason}")
    return 0


def _recover(args: argparse.Namespace) -> int:
    """Find again the jobs whose create answer was lost (or one of them), wait for what was found."""
    from reelforge.studio.recover import lost_jobs, recover
    from reelforge.studio.views import job_view

    async def run(studio) -> list[Any]:
        wanted = [args.target] if args.target else [job.id for job in lost_jobs(studio, since=0)]
        views = []
        for job_id in wanted:
            job = await recover(studio, job_id)
            if job.remote_id:
                job = await studio.wait(job_id, 600)
            views.append(job_view(job).model_dump(mode="json"))
        return views

    views = anyio.run(_with_studio, run)
    if args.json:
        _print_json(views)
    else:
        for view in views:
            print(f"{view['job_id']}\t{view['status']}\t{(view.get('notes') or [''])[-1]}")
    return 0 if all(v["status"] != "unknown" for v in views) else 1


def _status_filter(value: str | None) -> str | None:
    from reelforge.errors import InvalidRequest
    from reelforge.jobs.job import JobStatus

    known = [s.value for s in JobStatus]
    if value is not None and value not in known:  # a typo is not "no jobs"
        raise InvalidRequest(f"Unknown status '{value}'. Known: {', '.join(known)}.", param="status")
    return value


def cmd_jobs(args: argparse.Namespace) -> int:
    from reelforge.jobs.store import JobStore
    from reelforge.settings import Settings
    from reelforge.studio.views import job_view

    if args.job_id == "recover":  # `reelforge jobs recover [JOB_ID]`
        return _recover(args)

    status = _status_filter(args.status)
    store = JobStore.open(Settings())
    try:
        if args.job_id:
            _print_json(job_view(store.require(args.job_id)).model_dump(mode="json"))
            return 0
        jobs = store.list(status=status, limit=args.limit)
    finally:
        store.close()
    if args.json:
        _print_json([job_view(job).model_dump(mode="json") for job in jobs])
        return 0
    _print_rows(["id", "kind", "status", "provider/model", "cost", "output"],
                [[job.id, job.kind, job.status.value, f"{job.provider or '-'}/{job.model or '-'}",
                  f"{job.cost_usd:.2f}" if job.cost_usd is not None else "-", job.outputs.get("path", "")]
                 for job in jobs], wide=(0, 3, 5))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from reelforge.providers.registry import load_catalog
    from reelforge.settings import Settings
    from reelforge.studio.catalog_view import model_rows

    if args.action == "pull":
        from reelforge.providers.local.pull import pull_model

        return pull_model(args.name)
    rows = model_rows(load_catalog(), Settings(), provider=args.provider, include_retired=True)
    if args.json:
        _print_json(rows)
        return 0
    _print_rows(["provider/model", "status", "ready", "inputs", "durations", "price", "as of"],
                [[f"{r['provider']}/{r['model']}", r["status"], "yes" if r["ready"] else (r["needs"] or "no"),
                  ",".join(r["inputs"]), r["durations"], f"{r['price']['usd']:g} {r['price']['unit']}",
                  r["price"]["as_of"]] for r in rows], wide=(0,))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from reelforge.doctor import run_doctor

    report = run_doctor()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        from reelforge.doctor import print_report

        print_report(report, _console())
    return 0 if report["ok"] else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from reelforge.demo import run_demo

    return anyio.run(run_demo, Path(args.home) if args.home else None)


# -- parser -----------------------------------------------------------------------------------------------
def _add_generation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", help="What the clip shows.")
    p.add_argument("--provider", default="auto")
    p.add_argument("--model")
    p.add_argument("--duration", type=float)
    p.add_argument("--aspect")
    p.add_argument("--resolution")
    p.add_argument("--fps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--image", help="First frame (path inside an allowed folder, or https URL).")
    p.add_argument("--last-image", dest="last_image")
    p.add_argument("--loop", action="store_true")
    p.add_argument("--character", action="append", help="A saved character (repeatable; `reelforge characters`).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelforge", description="An MCP server that makes video.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="Run the MCP server (default: stdio).")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--queue", action="append", choices=["gpu", "remote", "media", "all", "none"],
                       help="Engine queue this server runs jobs from (repeatable; default REELFORGE_QUEUES, else all).")
    serve.set_defaults(fn=cmd_serve)

    demo = sub.add_parser("demo", help="Generate, extend, loop and compose preview clips through a real MCP session.")
    demo.add_argument("--home", help="Data directory for the demo (default: the configured one).")
    demo.set_defaults(fn=cmd_demo)

    gen = sub.add_parser("generate", help="Generate a clip (same path as the generate_video tool).")
    _add_generation_args(gen)
    gen.add_argument("--confirm", action="store_true", help="Approve a quoted cost above the threshold.")
    gen.add_argument("--idempotency-key", dest="idempotency_key")
    gen.add_argument("--json", action="store_true")
    gen.set_defaults(fn=cmd_generate)

    est = sub.add_parser("estimate", help="Quote a generation before paying.")
    _add_generation_args(est)
    est.add_argument("--compare", action="store_true", help="Rank every eligible provider and model.")
    est.add_argument("--json", action="store_true")
    est.set_defaults(fn=cmd_estimate)

    jobs = sub.add_parser("jobs", help="List jobs, or show one.")
    jobs.add_argument("job_id", nargs="?", help="A job to show, or `recover` to find lost creates again.")
    jobs.add_argument("target", nargs="?", help="With `recover`: one job id (default: every lost job).")
    jobs.add_argument("--status")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(fn=cmd_jobs)

    models = sub.add_parser("models", help="List the catalog, or `models pull NAME` to download local weights.")
    models.add_argument("action", nargs="?", choices=["list", "pull"], default="list")
    models.add_argument("name", nargs="?")
    models.add_argument("--provider")
    models.add_argument("--json", action="store_true")
    models.set_defaults(fn=cmd_models)

    doctor = sub.add_parser("doctor", help="Check ffmpeg, the ledger, keys and the GPU.")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(fn=cmd_doctor)
    add_batch_command(sub, _with_studio)
    add_setup_command(sub)
    add_team_commands(sub)
    return parser


def _fewer_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena and keeps freed memory in it: the
    worker threads of a busy server (downloads, probes, decodes) held about 3 MB each (429 vs 276 MB
    peak RSS for 50 jobs in flight, benchmarks/throughput.py). Two arenas, as MALLOC_ARENA_MAX=2 would,
    set before any thread starts; a no-op off glibc or when the variable is set."""
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "worker" or (args.command == "serve" and args.transport == "http"):
        _fewer_malloc_arenas()  # the processes that run many jobs at once (stdio serves one person)
    if args.command is None:  # `uvx reelforge` in a host config: serve over stdio
        args = build_parser().parse_args(["serve"])
    if args.command == "models" and args.action == "pull" and not args.name:
        build_parser().error("models pull needs a model name (see `reelforge models --provider local`)")
    if args.command != "serve":
        _quiet_redacted_logs()
    try:
        code = args.fn(args)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        code = 130
    except Exception as exc:  # one line, never a traceback (the full one goes to the log of `serve`)
        code, message = _error_line(exc)
        sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def _quiet_redacted_logs() -> None:
    """Commands other than `serve` log warnings only, one line each, redacted: without a handler,
    Python's fallback would print a crashed job's whole traceback (and any secret in it) to stderr."""
    import logging

    from reelforge.logs import install_log_redaction

    class _OneLine(logging.Formatter):
        def formatException(self, ei) -> str:  # noqa: N802 - logging's name
            return ""

        def format(self, record: logging.LogRecord) -> str:
            record.exc_info, record.exc_text, record.stack_info = None, None, None
            return super().format(record)

    class _Stderr(logging.StreamHandler):
        def emit(self, record: logging.LogRecord) -> None:
            self.stream = sys.stderr  # whatever stderr is now (a test's capture, a pipe)
            super().emit(record)

    root = logging.getLogger()
    if not any(isinstance(h, _Stderr) or getattr(h, "_reelforge_cli", False) for h in root.handlers):
        handler = _Stderr()
        handler._reelforge_cli = True  # type: ignore[attr-defined]
        handler.setFormatter(_OneLine("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    install_log_redaction()


#: Request fields as the command line spells them, for error messages.
_FLAGS = {"prompt": "prompt", "duration_s": "--duration", "fps": "--fps", "seed": "--seed", "aspect_ratio": "--aspect",
          "resolution": "--resolution", "provider": "--provider", "model": "--model", "image": "--image",
          "last_image": "--last-image", "idempotency_key": "--idempotency-key"}


def _error_line(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for a failure: 2 when the request or an input is wrong, else 1."""
    from pydantic import ValidationError

    from reelforge.errors import InvalidRequest, explain, to_tool_message, validation_text

    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:  # task groups wrap one error
        exc = exc.exceptions[0]
    if isinstance(exc, ValidationError):  # a flag, or a REELFORGE_* variable, named as the user wrote it
        return 2, validation_text(exc, names=None if exc.title == "Settings" else _FLAGS)
    explained = explain(exc)
    if explained is not None:
        code = 2 if isinstance(explained, InvalidRequest) or explained.code == "job_not_found" else 1
        return code, " ".join(to_tool_message(explained).split())  # one line, whatever the message holds
    from reelforge.redact import redact

    return 1, f"unexpected {type(exc).__name__}: {redact(' '.join(str(exc).split()))[:300]} (a bug: please report it)"


if __name__ == "__main__":  # pragma: no cover
    main()


__all__: list[Any] = ["main", "build_parser"]
