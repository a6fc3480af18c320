"""`reelforge usage`, `stats`, `users` and `worker`: the commands of a shared service.

`worker [--queue gpu|remote|media]` runs jobs from the engine's queues wherever the database is
reachable (a GPU machine runs `--queue gpu`), with no MCP surface; it stops cleanly on SIGTERM or
Ctrl-C, handing its jobs on at once.

`users token NAME` prints a fresh token for a user and the digest line to put in the tiers file (the
file never holds the token itself); `users encrypt-key VAR` reads a provider key from stdin and
prints its encrypted line (REELFORGE_SECRET_KEY encrypts it); `usage [--user NAME]` prints today's
usage against the limits; `stats` prints provider health from the ledger (success rate, failure
kinds, p50/p90 latency per model, and which providers 'auto' is skipping while they cool down);
`characters [list|add NAME IMAGE...|rm NAME]` keeps named reference images for `generate --character`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys


def cmd_usage(args: argparse.Namespace) -> int:
    from reelforge.errors import InvalidRequest
    from reelforge.settings import Settings
    from reelforge.studio.operations import open_studio
    from reelforge.studio.usage import usage_report

    studio = open_studio(Settings(), resume=False)
    try:
        tiers = studio.tiers()
        if args.user is not None and (tiers is None or args.user not in tiers.users):
            raise InvalidRequest(f"No user '{args.user}' in the tiers file (REELFORGE_TIERS_FILE).", param="user")
        report = usage_report(studio, args.user)
    finally:
        studio.store.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    who = f"{report['user']} (tier {report['tier']})" if report["user"] else "this server"
    print(f"usage today for {who}; resets {report['resets']}")
    limits = report["limits"]
    if report["user"]:
        rows = [("generations", report["generations"], limits.get("generations_per_day")),
                ("seconds of video", report["video_seconds"], limits.get("video_seconds_per_day")),
                ("spend (USD)", report["spend_usd"], limits.get("spend_per_day_usd"))]
    else:
        rows = [("spend (USD)", report["spend_usd"], limits.get("spend_per_day_usd"))]
    for name, used, limit in rows:
        print(f"  {name:<18} {used:>10g}  of {'no limit' if limit is None else f'{limit:g}'}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from reelforge.tiers import encrypt_key, token_digest

    if args.action == "token":
        token = secrets.token_hex(32)
        print(f"token for {args.name} (give it to them; it is not stored anywhere): {token}")
        print(f"tiers file line, under [users.{args.name}]:")
        print(f'token_sha256 = "{token_digest(token)}"')
        return 0
    from reelforge.settings import Settings

    secret = Settings().secret_key
    if secret is None or not secret.get_secret_value():
        print("error: set REELFORGE_SECRET_KEY (the server's passphrase for users' keys) first", file=sys.stderr)
        return 2
    value = sys.stdin.readline().strip()
    if not value:
        print(f"error: give the value of {args.name} on stdin", file=sys.stderr)
        return 2
    print(f'{args.name} = "{encrypt_key(value, secret.get_secret_value())}"')
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import logging
    import os

    import anyio

    from reelforge.errors import InvalidRequest
    from reelforge.logs import install_log_redaction
    from reelforge.settings import Settings

    level = os.environ.get("REELFORGE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    settings = Settings()
    if args.queue:
        settings = settings.model_copy(update={"queues": ",".join(args.queue)})
    if settings.engine != "dbos":
        raise InvalidRequest("A worker runs jobs from the engine's queues, but REELFORGE_ENGINE is not dbos.",
                             hint="Unset REELFORGE_ENGINE (its default is dbos).")
    anyio.run(_work, settings)
    return 0


async def _work(settings) -> None:
    import signal

    import anyio

    from reelforge.studio.operations import open_studio

    studio = await anyio.to_thread.run_sync(lambda: open_studio(settings, resume=True))
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(studio.runner.serve)
            engine = studio.runner.engine
            print(f"reelforge worker ready: queues {', '.join(sorted(engine.listen)) if engine else '-'}",
                  file=sys.stderr, flush=True)
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:  # a clean stop releases its leases: its jobs move on at once
                    break
            tg.cancel_scope.cancel()
    finally:
        await studio.aclose()
        from reelforge.jobs.engine import stop_engine

        await anyio.to_thread.run_sync(stop_engine)


def cmd_stats(args: argparse.Namespace) -> int:
    from reelforge.settings import Settings
    from reelforge.studio.health import health
    from reelforge.studio.operations import open_studio

    studio = open_studio(Settings(), resume=False)
    try:
        report = health(studio).view()
    finally:
        studio.store.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Finished generations of the last {report['window_days']} days:")
    for name, row in report["providers"].items():
        cooling = f"  cooling down until {row['cooling_down_until']}" if row["cooling_down_until"] else ""
        print(f"{name}: {row['succeeded']} succeeded, {row['failed']} failed{cooling}")
        for m in row["models"]:
            rate = "-" if m["success_rate"] is None else f"{m['success_rate']:.0%}"
            failures = ", ".join(f"{k} {v}" for k, v in m["failures"].items()) or "none"
            print(f"  {m['model']}: {m['finished']} finished, {rate} ok, p50 {m['p50_s']} s, p90 {m['p90_s']} s; "
                  f"failures: {failures}")
    if not report["providers"]:
        print("(none yet)")
    return 0


def _image_arg(value: str) -> str | dict:
    """`job:ID` (that job's last frame or poster) or `job:ID@SECONDS` (its frame then); else a path."""
    if not value.startswith("job:"):
        return value
    job_id, _, at = value[4:].partition("@")
    try:
        return {"job_id": job_id, **({"at_s": float(at)} if at else {})}
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}': give job:ID or job:ID@SECONDS") from None


def cmd_characters(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reelforge.errors import InvalidRequest
    from reelforge.settings import Settings
    from reelforge.studio import characters
    from reelforge.studio.operations import open_studio

    settings = Settings()  # the working directory is an allowed input folder here, as for `generate`
    settings = settings.model_copy(update={"allowed_input_roots": [*settings.allowed_input_roots, Path.cwd()]})
    if args.action == "add":
        if not args.name or not args.images:
            raise InvalidRequest("characters add needs a name and at least one image.", param="images",
                                 hint="reelforge characters add NAME IMAGE... [--description TEXT] [--voice TEXT]")
        studio = open_studio(settings, resume=False)
        try:
            saved = characters.save(studio, args.name, args.images, args.description or "", args.voice)
        finally:
            studio.store.close()
        print(f"saved {saved.name}: {len(saved.images)} image(s) in {saved.images[0].parent}")
        return 0
    if args.action == "rm":
        if not args.name:
            raise InvalidRequest("characters rm needs the name to remove.", param="name",
                                 hint="See the names with `reelforge characters`.")
        print(f"removed {characters.delete(settings, args.name).name}")
        return 0
    found = [c.view() for c in characters.list_all(settings)]
    if args.json:
        print(json.dumps(found, indent=2))
    for c in [] if args.json else found:
        print(f"{c['name']}: {len(c['images'])} image(s){' - ' + c['description'] if c['description'] else ''}")
    if not found and not args.json:
        print("(no characters; add one with `reelforge characters add NAME IMAGE...`)")
    return 0


def add_team_commands(sub: argparse._SubParsersAction) -> None:
    chars = sub.add_parser("characters", help="Saved characters: `characters [list]`, `add NAME IMAGE...`, `rm NAME`.")
    chars.add_argument("action", nargs="?", choices=["list", "add", "rm"], default="list")
    chars.add_argument("name", nargs="?")
    chars.add_argument("images", nargs="*", type=_image_arg, help="Image paths, or job:ID[@SECONDS] (a job's frame).")
    chars.add_argument("--description")
    chars.add_argument("--voice")
    chars.add_argument("--json", action="store_true")
    chars.set_defaults(fn=cmd_characters)

    worker = sub.add_parser("worker", help="Run jobs from the engine's queues (no MCP surface), e.g. on a GPU machine.")
    worker.add_argument("--queue", action="append", choices=["gpu", "remote", "media", "all"],
                        help="A queue to run (repeatable; default REELFORGE_QUEUES, else all).")
    worker.set_defaults(fn=cmd_worker)

    usage = sub.add_parser("usage", help="Today's usage against the limits (a user's tier, or the server's budget).")
    usage.add_argument("--user", help="A user of the tiers file (default: the whole server).")
    usage.add_argument("--json", action="store_true")
    usage.set_defaults(fn=cmd_usage)

    stats = sub.add_parser("stats", help="Provider health from the ledger: success rate, failures, p50/p90 per model.")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(fn=cmd_stats)

    users = sub.add_parser("users", help="Tiers file helpers: `users token NAME`, `users encrypt-key VAR` (stdin).")
    users.add_argument("action", choices=["token", "encrypt-key"])
    users.add_argument("name", help="The user (token) or the provider variable, e.g. RUNWAYML_API_SECRET (encrypt-key).")
    users.set_defaults(fn=cmd_users)
