"""A host's config file read, changed in one place, and written back without losing anything else.

The rule for every host: the user's file is theirs. Every other server and key is kept as it was;
a file that cannot be read as its format is never overwritten (the error names it); the old file is
copied to a timestamped backup before anything is written; the new one is written to a temporary
file in the same folder and renamed over the old (a crash leaves one or the other, whole).

JSON files are rewritten from the parsed data (key order kept). TOML is edited as text, so the
user's comments and layout survive: only our own `[mcp_servers.reelforge…]` tables are cut out and
the new table appended; the result is parsed back and must equal the old data with only our entry
changed, or nothing is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from reelforge.errors import InvalidRequest


def _refuse(path: Path, why: str) -> InvalidRequest:
    return InvalidRequest(f"{path} {why}; it was left unchanged.", param="config",
                          hint="Fix or move that file and run setup again, or use --print and add the entry by hand.")


# -- reading -----------------------------------------------------------------------------------------
def read_text(path: Path) -> str | None:
    """The file's text, or None when there is no file yet."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _refuse(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None


def parse_json(path: Path, text: str | None, *, jsonc: bool = False) -> dict[str, Any]:
    """The file's object. `jsonc`: the host reads comments (VS Code), so a file with them is named as
    such (rewriting it would drop them) rather than as broken."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        why = f"is not valid JSON ({exc.msg}, line {exc.lineno})"
        if jsonc and _parses_without_comments(text):  # VS Code's JSONC: rewriting it would drop the comments
            why = "holds comments or trailing commas (JSONC), which rewriting it would lose"
        raise _refuse(path, why) from None
    if not isinstance(data, dict):
        raise _refuse(path, "does not hold a JSON object at its top")
    return data


def parse_toml(path: Path, text: str | None) -> dict[str, Any]:
    try:
        return tomllib.loads(text or "")
    except tomllib.TOMLDecodeError as exc:
        raise _refuse(path, f"is not valid TOML ({exc})") from None


def _parses_without_comments(text: str) -> bool:
    """Whether the text is JSON once // and /* */ comments (outside strings) and trailing commas go."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2) + 2 if "*/" in text[i + 2:] else n
        else:
            out.append(c)
            i += 1
    try:
        json.loads(re.sub(r",(\s*[}\]])", r"\1", "".join(out)))
        return True
    except json.JSONDecodeError:
        return False


# -- JSON hosts ------------------------------------------------------------------------------------------
def servers_of(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    servers = data.get(key, {})
    if not isinstance(servers, dict):
        raise _refuse(path, f"has a '{key}' that is not an object")
    return servers


def with_server(path: Path, data: dict[str, Any], key: str, name: str, server: dict[str, Any],
                inputs: list[dict[str, Any]], input_prefix: str) -> dict[str, Any]:
    """A copy of data with our server (and our VS Code inputs) in place; everything else as it was."""
    out = without_server(path, data, key, name, input_prefix)
    out[key] = {**servers_of(path, data, key), name: server}  # an existing entry keeps its place
    if inputs:
        out["inputs"] = [*out.get("inputs", []), *inputs]
    return out


def without_server(path: Path, data: dict[str, Any], key: str, name: str, input_prefix: str) -> dict[str, Any]:
    out = dict(data)
    servers = servers_of(path, data, key)
    if name in servers:
        out[key] = {k: v for k, v in servers.items() if k != name}
    if "inputs" in data:
        if not isinstance(data["inputs"], list):
            raise _refuse(path, "has an 'inputs' that is not a list")
        out["inputs"] = [i for i in data["inputs"]
                         if not (isinstance(i, dict) and str(i.get("id", "")).startswith(input_prefix))]
    return out


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- TOML (Codex) ------------------------------------------------------------------------------------
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_str(value: str) -> str:
    # JSON's escapes are TOML's, once DEL (raw in JSON, not in a TOML basic string) is escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_str(key)


def toml_table(table: str, name: str, server: dict[str, Any]) -> str:
    """`[table.name]` with the entry's strings and string lists, and its `env` as a sub-table."""
    head = f"{table}.{_toml_key(name)}"
    lines = [f"[{head}]"]
    for key, value in server.items():
        if isinstance(value, str):
            lines.append(f"{_toml_key(key)} = {_toml_str(value)}")
        elif isinstance(value, list):
            lines.append(f"{_toml_key(key)} = [{', '.join(_toml_str(v) for v in value)}]")
    if server.get("env"):
        lines += ["", f"[{head}.env]"] + [f"{_toml_key(k)} = {_toml_str(v)}" for k, v in server["env"].items()]
    return "\n".join(lines) + "\n"


def _header_re(table: str, name: str) -> re.Pattern[str]:
    # [mcp_servers.reelforge], [ mcp_servers . "reelforge" ], [mcp_servers.reelforge.env], with a comment
    quoted = rf"(?:{re.escape(name)}|\"{re.escape(name)}\"|'{re.escape(name)}')"
    return re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\.\s*{quoted}\s*(?:\.[^\]]*)?\]\s*(?:#.*)?$")


def toml_without_text(text: str, table: str, name: str) -> str:
    """The text with our tables cut out (comments and blank lines just before the next table stay)."""
    ours, any_header = _header_re(table, name), re.compile(r"^\s*\[")
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if not ours.match(lines[i]):
            kept.append(lines[i])
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not any_header.match(lines[end]):
            end += 1
        tail = end
        while tail > i + 1 and (not lines[tail - 1].strip() or lines[tail - 1].lstrip().startswith("#")):
            tail -= 1
        kept.extend(lines[tail:end])
        i = end
    return "".join(kept)


def toml_edited(path: Path, text: str | None, table: str, name: str, server: dict[str, Any] | None) -> str:
    """The file's text with our entry set (or removed when server is None), checked by parsing back."""
    before = parse_toml(path, text)
    if not isinstance(before.get(table, {}), dict):
        raise _refuse(path, f"has a '{table}' that is not a table")
    stripped = toml_without_text(text or "", table, name)
    out = stripped.rstrip("\n") + "\n" if stripped.strip() else ""  # no blank lines left where ours was
    if server is not None:
        out = stripped.rstrip("\n") + ("\n\n" if stripped.strip() else "") + toml_table(table, name, server)
    expected = {**before, table: {k: v for k, v in before.get(table, {}).items() if k != name}}
    if server is not None:
        expected[table][name] = server
    try:
        after = tomllib.loads(out)
    except tomllib.TOMLDecodeError:
        after = None
    if after is None or _without_empty(after, table) != _without_empty(expected, table):
        raise _refuse(path, f"defines {table}.{name} in a form setup does not edit (an inline or dotted table)")
    return out


def _without_empty(data: dict[str, Any], table: str) -> dict[str, Any]:
    # Removing our only server also removes the [mcp_servers] it implied: absent and empty are the same.
    return {k: v for k, v in data.items() if not (k == table and v == {})}


# -- writing ----------------------------------------------------------------------------------------------
def backup(path: Path) -> Path | None:
    """A timestamped copy of the file beside it (mode and times kept); None when there is no file."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while target.exists():  # two runs in one second keep both backups
        target = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        n += 1
    shutil.copy2(path, target)
    return target


def write_atomic(path: Path, text: str, *, private: bool, shared: bool = False) -> None:
    """Write through a temporary file in the same folder, renamed over the old file. Mode: 0600 when
    `private` (the file holds keys); else the old file's; for a new file 0600, or 0644 when `shared`
    (a project's file, made to be committed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        mode = 0o600
    elif path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        mode = 0o644 if shared else 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if hasattr(os, "fchmod"):  # not on Windows, where mkstemp's file is the user's alone anyway
                os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def real_path(path: Path) -> Path:
    """The file a link points at (dotfile managers link configs): written in place, the link kept."""
    path = path.expanduser().absolute()
    return path.resolve() if path.is_symlink() else path


__all__ = ["backup", "dump_json", "parse_json", "parse_toml", "read_text", "real_path", "servers_of",
           "toml_edited", "toml_table", "with_server", "without_server", "write_atomic"]
