"""The `reelforge` command: the parser and dispatch; each group of commands lives in its own module.

    serve, models, doctor, demo                         here
    generate, extend, loop, compose, estimate           cli_work.py   (the work tools, in-process)
    jobs [ID | wait ID | cancel ID | recover [ID]]      cli_jobs.py
    batch                                               cli_batch.py
    characters, worker, usage, stats, users             cli_team.py

The work commands run the same studio code path as the MCP tools (`OPERATIONS[kind].start`, the
tools' request models); `demo` drives the real server through a real MCP client session over stdio.
Human output goes to stdout here (the CLI is not the stdio wire; `serve` never prints).

Output survives a pipe: on a terminal, tables and progress bars (on stderr); otherwise
tab-separated lines with whole ids and paths and no header (`reelforge jobs | cut -f1` gives ids
to feed back); `--json` everywhere. Every failure is one `error: …` line on stderr, never a
traceback, and an exit code a script can branch on (`cli_exit.py`):

    0 success     1 other failure         2 bad request or input    3 the job failed
    4 still running when `jobs wait --timeout` ran out              5 the job was canceled
    6 needs confirmation (the quote is printed; rerun with --yes)   7 outcome unknown (never resend)
    130 interrupted
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import anyio

from reelforge.cli_batch import add_batch_command
from reelforge.cli_exit import EPILOG, FAILURE, INTERRUPTED, error_line
from reelforge.cli_jobs import add_jobs_command
from reelforge.cli_output import console, print_json, print_rows
from reelforge.cli_setup import add_setup_command
from reelforge.cli_studio import with_studio
from reelforge.cli_team import add_team_commands
from reelforge.cli_work import add_work_commands


# -- serve -----------------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import logging

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


def cmd_models(args: argparse.Namespace) -> int:
    from reelforge.providers.registry import load_catalog
    from reelforge.settings import Settings
    from reelforge.studio.catalog_view import model_rows

    if args.action == "pull":
        from reelforge.providers.local.pull import pull_model

        return pull_model(args.name)
    rows = model_rows(load_catalog(), Settings(), provider=args.provider, include_retired=True)
    if args.json:
        print_json(rows)
        return 0
    print_rows(["provider/model", "status", "ready", "inputs", "durations", "price", "as of"],
               [[f"{r['provider']}/{r['model']}", r["status"], "yes" if r["ready"] else (r["needs"] or "no"),
                 ",".join(r["inputs"]), r["durations"], f"{r['price']['usd']:g} {r['price']['unit']}",
                 r["price"]["as_of"]] for r in rows], wide=(0,))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from reelforge.doctor import run_doctor

    report = run_doctor()
    if args.json:
        print_json(report)
    else:
        from reelforge.doctor import print_report

        print_report(report, console())
    return 0 if report["ok"] else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from reelforge.demo import run_demo

    return anyio.run(run_demo, Path(args.home) if args.home else None)


# -- parser -----------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelforge", description="An MCP server that makes video.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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

    add_work_commands(sub)
    add_jobs_command(sub)

    models = sub.add_parser("models", help="List the catalog, or `models pull NAME` to download local weights.")
    models.add_argument("action", nargs="?", choices=["list", "pull"], default="list")
    models.add_argument("name", nargs="?")
    models.add_argument("--provider")
    models.add_argument("--json", action="store_true")
    models.set_defaults(fn=cmd_models)

    doctor = sub.add_parser("doctor", help="Check ffmpeg, the ledger, keys and the GPU.")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(fn=cmd_doctor)
    add_batch_command(sub, with_studio)
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
        code = INTERRUPTED
    except BrokenPipeError:  # `reelforge … | head`: the reader has what it wanted; no message, no traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = FAILURE
    except Exception as exc:  # one line, never a traceback (the full one goes to the log of `serve`)
        code, message = error_line(exc)
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


if __name__ == "__main__":  # pragma: no cover
    main()


__all__: list[Any] = ["main", "build_parser"]
