"""The MCP hosts `reelforge setup` configures, as data, and the server entry each one reads.

Each host keeps its MCP servers in its own file and shape. The formats and places below were checked
against each host's documentation (December 2026); the source is named on each row:

- Claude Desktop: `claude_desktop_config.json`, `mcpServers`, in the app's config folder per OS
  (modelcontextprotocol.io/quickstart/user; Linux builds are unofficial and use ~/.config/Claude).
- Claude Code: user scope `~/.claude.json` (top-level `mcpServers`), project scope `.mcp.json` at the
  project root, which Claude Code expands `${VAR}` in (code.claude.com/docs/en/mcp, "MCP installation
  scopes" and "Environment variable expansion in .mcp.json").
- Cursor: `~/.cursor/mcp.json` or the project's `.cursor/mcp.json`, `mcpServers`; `${env:NAME}` is
  interpolated (cursor.com/docs/mcp).
- VS Code: the user profile's `mcp.json` or the workspace's `.vscode/mcp.json`, `servers` with
  `"type": "stdio"`, and `inputs` (`promptString`, `password: true`) that VS Code asks for once and
  keeps in its secret storage (code.visualstudio.com/docs/copilot/reference/mcp-configuration).
- Codex: `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`), table `[mcp_servers.<name>]`
  with `command`, `args` and an `env` table (developers.openai.com/codex/config-reference, /codex/mcp).

Keys: a file only one person reads (user scope) gets the values, and is written 0600. A file made to
be shared and committed (a project's) never gets a value: it gets a reference the host resolves
from its own environment. VS Code gets an `inputs` prompt everywhere, since its user `mcp.json` is
carried by Settings Sync.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

#: The server's name in every host's file.
SERVER_NAME = "reelforge"

#: How a secret goes into a file: its value; `${NAME:-}` (Claude Code's .mcp.json: empty when unset,
#: which reelforge reads as unset, where a bare `${NAME}` would fail or pass the literal text);
#: `${env:NAME}` (Cursor); `${input:ID}` with a VS Code `inputs` prompt.
SecretStyle = Literal["value", "shell", "cursor", "input"]

#: What `--print` shows in place of a secret value.
MASK = "********"


@dataclass(frozen=True)
class Location:
    """One scope of a host: where its file is and how secrets are written into it."""

    path: Callable[[], Path]
    secrets: SecretStyle
    #: A shared scope (a project's file): references only, never a value.
    shared: bool = False


@dataclass(frozen=True)
class Host:
    name: str
    title: str
    fmt: Literal["json", "toml"]
    #: The key (JSON) or table (TOML) that holds the servers.
    servers_key: str
    locations: dict[str, Location]
    #: What to do after writing, so the host loads the server.
    reload: str
    #: Whether an entry carries `"type": "stdio"` (the hosts whose own tools write it).
    typed: bool = False
    #: Whether the host reads JSON with comments (a file with them is not rewritten: they would go).
    jsonc: bool = False


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    secret: bool
    description: str = ""
    #: Only true on this machine (REELFORGE_HOME): left out of a shared file, where it would be wrong
    #: for everyone else (reelforge then uses its default data folder, or the host's environment).
    personal: bool = False


@dataclass
class Entry:
    """The server entry for one host and scope, and what writing it means."""

    server: dict[str, Any]
    #: VS Code `inputs` the entry refers to (empty elsewhere).
    inputs: list[dict[str, Any]] = field(default_factory=list)
    #: Whether a secret value is written into the file (the file is then made 0600).
    holds_secrets: bool = False


def _config_home() -> Path:
    """The per-user application folder: ~/Library/Application Support, %APPDATA%, or XDG's."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def _codex_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")


HOSTS: dict[str, Host] = {h.name: h for h in (
    Host("claude-desktop", "Claude Desktop", "json", "mcpServers",
         {"user": Location(lambda: _config_home() / "Claude" / "claude_desktop_config.json", "value")},
         reload="Quit Claude Desktop completely and open it again."),
    Host("claude-code", "Claude Code", "json", "mcpServers",
         {"user": Location(lambda: Path.home() / ".claude.json", "value"),
          "project": Location(lambda: Path.cwd() / ".mcp.json", "shell", shared=True)},
         reload="Start a new Claude Code session; `/mcp` lists the server.", typed=True),
    Host("cursor", "Cursor", "json", "mcpServers",
         {"user": Location(lambda: Path.home() / ".cursor" / "mcp.json", "value"),
          "project": Location(lambda: Path.cwd() / ".cursor" / "mcp.json", "cursor", shared=True)},
         reload="Open Cursor Settings > MCP and switch reelforge on."),
    Host("vscode", "VS Code", "json", "servers",
         {"user": Location(lambda: _config_home() / "Code" / "User" / "mcp.json", "input"),
          "project": Location(lambda: Path.cwd() / ".vscode" / "mcp.json", "input", shared=True)},
         reload="Run `MCP: List Servers` in VS Code and start reelforge; it asks for each key once.",
         typed=True, jsonc=True),
    Host("codex", "Codex", "toml", "mcp_servers",
         {"user": Location(lambda: _codex_home() / "config.toml", "value")},
         reload="Start a new Codex session; `/mcp` lists the server."),
)}


def ephemeral_install() -> bool:
    """Whether this reelforge runs from uvx's cache, which uv may clear (the path would then be gone)."""
    return "archive-v" in Path(sys.prefix).as_posix()


def launch_command() -> list[str]:
    """The absolute command line a host runs: this environment's `reelforge` script, else
    `python -m reelforge`. Absolute, since hosts start servers with a minimal PATH."""
    script = Path(sys.executable).parent / ("reelforge.exe" if os.name == "nt" else "reelforge")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "serve"]
    return [sys.executable, "-m", "reelforge", "serve"]


def _reference(style: SecretStyle, name: str) -> str:
    if style == "shell":
        return "${%s:-}" % name
    if style == "cursor":
        return "${env:%s}" % name
    return "${input:%s}" % input_id(name)


def input_id(name: str) -> str:
    """The VS Code input id for a variable (prefixed, so --remove finds only ours)."""
    return f"{SERVER_NAME}-{name}"


def build_entry(host: Host, location: Location, command: list[str], env: list[EnvVar]) -> Entry:
    """The entry this host reads to start reelforge, with each secret written as the scope allows."""
    entry = Entry(server={"type": "stdio"} if host.typed else {})
    entry.server.update({"command": command[0], "args": command[1:]})
    values: dict[str, str] = {}
    for var in env:
        if var.personal and location.shared:
            continue
        if not var.secret or location.secrets == "value":
            values[var.name] = var.value
            entry.holds_secrets = entry.holds_secrets or var.secret
            continue
        values[var.name] = _reference(location.secrets, var.name)
        if location.secrets == "input":
            entry.inputs.append({"type": "promptString", "id": input_id(var.name),
                                 "description": var.description or var.name, "password": True})
    if values:
        entry.server["env"] = values
    return entry


def masked(entry: Entry, env: list[EnvVar]) -> dict[str, Any]:
    """The server entry with every secret value replaced by MASK (references stay: they hold none)."""
    secrets = {v.name: v.value for v in env if v.secret}
    server = dict(entry.server)
    if "env" in server:
        server["env"] = {k: MASK if secrets.get(k) == v else v for k, v in server["env"].items()}
    return server


def settings_variables() -> list[tuple[str, bool, bool, str]]:
    """(name, secret, personal, description) of every REELFORGE_ setting, from the Settings fields:
    a SecretStr field is a secret (a database URL with its password, a token); a Path field is this
    machine's. `provider_env` (excluded) is not a variable."""
    from pydantic import SecretStr

    from reelforge.settings import Settings

    prefix = Settings.model_config["env_prefix"]
    return [(prefix + name.upper(), _mentions(f.annotation, SecretStr), _mentions(f.annotation, Path),
             f.description or "") for name, f in Settings.model_fields.items() if not f.exclude]


def _mentions(annotation: Any, kind: type) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, kind):
        return True
    return any(_mentions(arg, kind) for arg in get_args(annotation))


def provider_variables(providers: list[str] | None = None) -> list[tuple[str, str | None, bool, str]]:
    """(name, alternative name, secret, description) of every variable the chosen providers read
    (all providers when None): the provider declarations are the one list of them."""
    from reelforge.providers.registry import declaration, declarations

    chosen = [declaration(p) for p in providers] if providers else list(declarations().values())
    return [(v.name, v.alternative, v.secret, f"{d.title}: {v.description}") for d in chosen for v in d.variables]


__all__ = ["HOSTS", "MASK", "SERVER_NAME", "Entry", "EnvVar", "Host", "Location", "build_entry", "ephemeral_install",
           "input_id", "launch_command", "masked", "provider_variables", "settings_variables"]
