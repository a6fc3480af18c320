"""`reelforge setup HOST`: put reelforge into an MCP host's config (or print it, or take it out).

    reelforge setup claude-desktop            # write, with the keys set in this shell
    reelforge setup cursor --ask              # also ask for the keys that are not set (never echoed)
    reelforge setup claude-code --scope project --print
    reelforge setup codex --remove

The entry runs this environment's `reelforge serve` by its absolute path, with the REELFORGE_
settings and provider variables set here (keys also typed at `--ask`). Values are never printed: `--print`
masks them, and the summary names the variables only. Hosts, formats and places: `host_config.py`;
reading and writing the file safely: `host_config_files.py`. Exit codes: 0 done, 2 the host, scope
or existing file is wrong (nothing written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.host_config import Entry, EnvVar, Host, Location


def add_setup_command(sub: Any) -> None:
    from reelforge.host_config import HOSTS

    p = sub.add_parser("setup", help="Add reelforge to an MCP host's config: " + ", ".join(HOSTS) + ".")
    p.add_argument("host", help="One of: " + ", ".join(HOSTS) + ".")
    p.add_argument("--scope", choices=["user", "project"], default="user",
                   help="user: your own config (default); project: the file in this folder, to share "
                        "(keys go in as references to your environment, never as values).")
    p.add_argument("--print", dest="print_only", action="store_true",
                   help="Print the entry (key values masked) instead of writing the file.")
    p.add_argument("--remove", action="store_true", help="Take reelforge out of the file (a backup first).")
    p.add_argument("--ask", action="store_true", help="Ask for each provider key not set here (input hidden).")
    p.add_argument("--provider", action="append", help="Only this provider's variables (repeatable).")
    p.add_argument("--config", help="The config file to edit (default: the host's own place).")
    p.set_defaults(fn=cmd_setup)


def _gather_env(args: argparse.Namespace, location: Location) -> list[EnvVar]:
    """The REELFORGE_ settings and provider variables set here (hosts pass a server little of their
    own environment); with --ask, each key not set is typed in (hidden; blank skips it), or, where the
    file takes references only, referred to without asking."""
    import getpass

    from reelforge.host_config import EnvVar, provider_variables, settings_variables

    env = [EnvVar(name, os.environ[name], secret, f"reelforge: {description}", personal=personal)
           for name, secret, personal, description in settings_variables() if os.environ.get(name)]
    for name, alternative, secret, description in provider_variables(args.provider):
        found = next((n for n in (name, alternative) if n and os.environ.get(n)), None)
        if found:
            env.append(EnvVar(found, os.environ[found], secret, description))
        elif args.ask and secret and location.secrets != "value":
            env.append(EnvVar(name, "", secret, description))  # the host asks, or reads its environment
        elif args.ask and secret:
            value = getpass.getpass(f"{name} ({description}; Enter to skip): ").strip()
            if value:
                env.append(EnvVar(name, value, secret, description))
    return env


def cmd_setup(args: argparse.Namespace) -> int:
    from reelforge.errors import InvalidRequest
    from reelforge.host_config import HOSTS

    host = HOSTS.get(args.host)
    if host is None:
        raise InvalidRequest(f"Unknown host '{args.host}'. Known hosts: {', '.join(HOSTS)}.", param="host")
    location = host.locations.get(args.scope)
    if location is None:
        raise InvalidRequest(f"{host.title} has no {args.scope} scope; its scopes: {', '.join(host.locations)}.",
                             param="scope")
    from reelforge.host_config_files import real_path

    path = real_path(Path(args.config) if args.config else location.path())
    if args.remove:
        return _remove(host, path)
    env = _gather_env(args, location)
    if args.print_only:
        return _print(host, location, env, path)
    return _write(host, location, env, path)


def _entry(host: Host, location: Location, env: list[EnvVar]) -> Entry:
    from reelforge.host_config import build_entry, launch_command

    return build_entry(host, location, launch_command(), env)


def _print(host: Host, location: Location, env: list[EnvVar], path: Path) -> int:
    from reelforge.host_config import SERVER_NAME, masked
    from reelforge.host_config_files import toml_table

    entry = _entry(host, location, env)
    server = masked(entry, env)
    if host.fmt == "toml":
        print(toml_table(host.servers_key, SERVER_NAME, server), end="")
    else:
        snippet: dict[str, Any] = {host.servers_key: {SERVER_NAME: server}}
        if entry.inputs:
            snippet["inputs"] = entry.inputs
        print(json.dumps(snippet, indent=2, ensure_ascii=False))
    sys.stderr.write(f"(for {path}; key values masked; nothing was written)\n")
    return 0


def _new_text(host: Host, path: Path, entry: Entry | None) -> str:
    """The file's new text with our entry in place; every other server and key kept."""
    from reelforge.host_config import SERVER_NAME, input_id
    from reelforge.host_config_files import (dump_json, parse_json, read_text, toml_edited, with_server,
                                             without_server)

    text = read_text(path)
    if host.fmt == "toml":
        return toml_edited(path, text, host.servers_key, SERVER_NAME, entry.server if entry else None)
    data = parse_json(path, text, jsonc=host.jsonc)
    if entry is None:
        return dump_json(without_server(path, data, host.servers_key, SERVER_NAME, input_id("")))
    return dump_json(with_server(path, data, host.servers_key, SERVER_NAME, entry.server, entry.inputs,
                                 input_id("")))


def _save(path: Path, text: str, *, private: bool, shared: bool = False) -> Path | None:
    """Backup, then the atomic write; an unwritable place is one clear error (the file is intact)."""
    from reelforge.errors import StorageUnavailable
    from reelforge.host_config_files import backup, write_atomic

    try:
        saved = backup(path)
        write_atomic(path, text, private=private, shared=shared)
    except OSError as exc:
        raise StorageUnavailable(
            f"{path} cannot be written ({exc.strerror or exc}); it was left unchanged.",
            hint="Check that folder's permissions, or pass --config with a file you can write.") from None
    return saved


def _write(host: Host, location: Location, env: list[EnvVar], path: Path) -> int:
    from reelforge.host_config import ephemeral_install

    entry = _entry(host, location, env)
    text = _new_text(host, path, entry)  # refuses a malformed file before anything is touched
    saved = _save(path, text, private=entry.holds_secrets, shared=location.shared)
    print(f"reelforge added to {host.title}: {path}" + (f" (backup: {saved})" if saved else ""))
    print(f"command: {' '.join([entry.server['command'], *entry.server['args']])}")
    if entry.server.get("env"):
        print(f"environment: {', '.join(entry.server['env'])}")
    if any(v.secret for v in env):
        print({"value": "keys: written as values, never shown; the file is now mode 0600",
               "shell": "keys: written as ${NAME:-}; Claude Code fills them in from the environment it starts in",
               "cursor": "keys: written as ${env:NAME}; Cursor fills them in from the environment it starts in",
               "input": "keys: VS Code asks for each once and keeps it in its secret storage"}[location.secrets])
    if not any(v.secret and not v.name.startswith("REELFORGE_") for v in env):  # no provider key
        print("No provider key found: only the free offline preview provider will work. "
              "Set a key (see `reelforge doctor`) and run setup again, or add --ask.")
    left_out = [v.name for v in env if v.personal and location.shared]
    if left_out:
        print(f"Left out of this shared file (paths of this machine): {', '.join(left_out)}; "
              "set them where the host starts if you need them.")
    if ephemeral_install():
        print("warning: this reelforge runs from uvx's cache, which uv may clear; install it "
              "(`uv tool install reelforge` or `pipx install reelforge`) and run setup from there.")
    print(host.reload)
    return 0


def _remove(host: Host, path: Path) -> int:
    from reelforge.host_config import SERVER_NAME
    from reelforge.host_config_files import read_text

    before = read_text(path)
    text = _new_text(host, path, None)
    if before is None or _same_data(host, path, before, text):
        print(f"reelforge is not in {path}; nothing changed.")
        return 0
    saved = _save(path, text, private=False)
    print(f"{SERVER_NAME} removed from {host.title}: {path} (backup: {saved})")
    return 0


def _same_data(host: Host, path: Path, before: str, after: str) -> bool:
    from reelforge.host_config_files import parse_json, parse_toml

    parse = parse_toml if host.fmt == "toml" else parse_json
    return parse(path, before) == parse(path, after)


__all__ = ["add_setup_command", "cmd_setup"]
