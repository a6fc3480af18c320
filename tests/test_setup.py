"""`reelforge setup HOST` (issue 14, item 5) on temporary config files in each host's real format.

For every host: a file that already holds other servers and settings gets reelforge written into
it; the file is parsed back; the command line it names is started the way the host starts it (only
the written environment, plus PATH and HOME) and a real MCP session is opened on it, whose model
list shows the provider key arrived; then `--remove` leaves exactly the original data, and both
backups are there. Also: --print and the summary never show a key; a malformed file is never
overwritten; project files get references, never values; --ask reads a key with echo off (a pty).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from reelforge.cli import main
from reelforge.host_config import MASK
from reelforge.providers.registry import declaration

SRC = Path(__file__).resolve().parents[1] / "src"
KEY_VAR = declaration("runway").required[0].name  # RUNWAYML_API_SECRET, as the declaration names it
KEY = "rk-test-0123456789abcdef-SECRET"

# Each host's real format, with someone else's servers and settings in it (shapes from the hosts' docs).
CLAUDE_DESKTOP = {"mcpServers": {"filesystem": {"command": "npx", "args": [
    "-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]}}, "globalShortcut": "Alt+Space"}
CLAUDE_CODE_USER = {
    "numStartups": 12, "autoUpdates": False,
    "projects": {"/home/me/app": {"mcpServers": {"local-db": {"type": "stdio", "command": "db-mcp", "args": []}},
                                  "allowedTools": ["Bash(git status)"]}},
    "mcpServers": {"github": {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                              "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_someone_elses"}}},
}
CLAUDE_CODE_PROJECT = {"mcpServers": {"shared": {"type": "http", "url": "https://mcp.example.com/mcp"}}}
CURSOR = {"mcpServers": {"remote": {"url": "https://mcp.example.com/mcp",
                                    "headers": {"Authorization": "Bearer ${env:EXAMPLE_TOKEN}"}},
                         "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {}}}}
VSCODE = {"inputs": [{"type": "promptString", "id": "gh-token", "description": "GitHub token", "password": True}],
          "servers": {"memory": {"type": "stdio", "command": "npx",
                                 "args": ["-y", "@modelcontextprotocol/server-memory"]},
                      "github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/",
                                 "headers": {"Authorization": "Bearer ${input:gh-token}"}}}}
CODEX = """\
# Codex settings (mine)
model = "gpt-5.2"
approval_policy = "on-request"

[mcp_servers.context7]
command = "npx"
args = ["-y", "@upstash/context7-mcp"]
startup_timeout_sec = 20

[mcp_servers.context7.env]
DEFAULT_MINIMUM_TOKENS = "10000"

# the docs server I use at work
[mcp_servers.docs]
url = "https://mcp.example.com/mcp"
bearer_token_env_var = "DOCS_TOKEN"

[profiles.fast]
model = "gpt-5.2-mini"
"""

JSON_HOSTS = [("claude-desktop", "user", CLAUDE_DESKTOP, "mcpServers"),
              ("claude-code", "user", CLAUDE_CODE_USER, "mcpServers"),
              ("claude-code", "project", CLAUDE_CODE_PROJECT, "mcpServers"),
              ("cursor", "user", CURSOR, "mcpServers"),
              ("cursor", "project", CURSOR, "mcpServers"),
              ("vscode", "user", VSCODE, "servers"),
              ("vscode", "project", VSCODE, "servers")]


@pytest.fixture
def env(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean environment (the settings fixture scrubs keys), a home that no real host file is under,
    and the key and REELFORGE_HOME that setup should carry into the host's file."""
    for var in ("HOME", "XDG_CONFIG_HOME", "APPDATA", "CODEX_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "userhome"))
    monkeypatch.setenv(KEY_VAR, KEY)
    monkeypatch.setenv("REELFORGE_HOME", str(settings.home))
    return {KEY_VAR: KEY, "REELFORGE_HOME": str(settings.home)}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["setup", *argv])
    out, err = capsys.readouterr()
    return done.value.code, out, err


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*.bak"))


def resolve(server: dict[str, Any], scope_values: dict[str, str]) -> dict[str, str]:
    """The environment a host gives the process: references resolved as the host does (Claude Code
    `${VAR}`, Cursor `${env:VAR}`, a VS Code `${input:ID}` answered at its prompt)."""
    def one(value: str) -> str:
        return re.sub(r"\$\{(?:env:|input:reelforge-)?([A-Z0-9_]+)(?::-)?\}", lambda m: scope_values[m.group(1)], value)

    return {k: one(v) for k, v in server.get("env", {}).items()}


async def start_and_list_models(server: dict[str, Any], env: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    """Start the configured command line as a host does and open a real MCP session on it."""
    assert Path(server["command"]).is_absolute() and Path(server["command"]).exists(), server["command"]
    assert server["args"][-1] == "serve"
    host_env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), **env}  # hosts pass little of their own
    params = StdioServerParameters(command=server["command"], args=server["args"], env=host_env, cwd=str(cwd))
    with anyio.fail_after(90):
        async with Client(params) as client:
            result = await client.call_tool("list_models", {"provider": "runway"})
    return result.structured_content["models"]


@pytest.mark.slow
@pytest.mark.parametrize(("host", "scope", "original", "key"), JSON_HOSTS,
                         ids=[f"{h}-{s}" for h, s, _, _ in JSON_HOSTS])
async def test_json_host_round_trip(host, scope, original, key, env, tmp_path, capsys) -> None:
    path = tmp_path / "cfg" / f"{host}-{scope}.json"
    path.parent.mkdir()
    path.write_text(json.dumps(original, indent=4))
    path.chmod(0o644)
    original_bytes = path.read_bytes()

    code, out, err = run(capsys, host, "--scope", scope, "--config", str(path))
    assert code == 0, err
    assert KEY not in out + err and str(path) in out
    data = json.loads(path.read_text())
    entry = data[key].pop("reelforge")
    assert {k: v for k, v in data.items() if k != "inputs"} == {k: v for k, v in original.items() if k != "inputs"}
    assert [i for i in data.get("inputs", []) if not i["id"].startswith("reelforge-")] == original.get("inputs", [])
    if scope == "user":
        assert entry["env"]["REELFORGE_HOME"] == env["REELFORGE_HOME"]
    else:  # a path of this machine has no place in a shared file: the host's environment gives it
        assert "REELFORGE_HOME" not in entry["env"]
    if host in ("claude-code", "vscode"):
        assert entry["type"] == "stdio"
    if scope == "user" and host != "vscode":  # the one reader's own file: the value, and 0600
        assert entry["env"][KEY_VAR] == KEY
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    else:  # a shared file, or VS Code's prompt: a reference, never the value
        assert KEY not in path.read_text()
        assert entry["env"][KEY_VAR] in ("${%s:-}" % KEY_VAR, "${env:%s}" % KEY_VAR, "${input:reelforge-%s}" % KEY_VAR)
    if host == "vscode":
        assert {"type": "promptString", "id": f"reelforge-{KEY_VAR}", "password": True}.items() <= \
            next(i for i in data["inputs"] if i["id"] == f"reelforge-{KEY_VAR}").items()
    [first] = backups(path)
    assert first.read_bytes() == original_bytes

    models = await start_and_list_models(entry, {"REELFORGE_HOME": env["REELFORGE_HOME"], **resolve(entry, env)},
                                         tmp_path)
    assert models and all(m["ready"] for m in models if m["status"] != "retired"), models  # the key arrived
    assert (Path(env["REELFORGE_HOME"]) / "ledger.sqlite3").exists()  # and REELFORGE_HOME

    code, out, err = run(capsys, host, "--scope", scope, "--config", str(path), "--remove")
    assert code == 0, err
    assert json.loads(path.read_text()) == original
    assert len(backups(path)) == 2
    code, out, _ = run(capsys, host, "--scope", scope, "--config", str(path), "--remove")
    assert code == 0 and "nothing changed" in out and len(backups(path)) == 2


@pytest.mark.slow
async def test_codex_toml_round_trip_keeps_comments(env, tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(CODEX)

    code, out, err = run(capsys, "codex", "--config", str(path))
    assert code == 0, err
    text = path.read_text()
    assert KEY not in out + err
    assert text.startswith(CODEX.rstrip("\n")), "the user's file is kept as written, comments included"
    data = tomllib.loads(text)
    entry = data["mcp_servers"].pop("reelforge")
    assert data == tomllib.loads(CODEX)
    assert entry["env"] == {"REELFORGE_HOME": env["REELFORGE_HOME"], KEY_VAR: KEY}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    models = await start_and_list_models(entry, entry["env"], tmp_path)
    assert all(m["ready"] for m in models if m["status"] != "retired"), models

    # Written again (a key changed): one table, the new value, everything else as it was.
    monkeypatch.setenv(KEY_VAR, KEY + "-2")
    assert run(capsys, "codex", "--config", str(path))[0] == 0
    again = tomllib.loads(path.read_text())
    assert again["mcp_servers"]["reelforge"]["env"][KEY_VAR] == KEY + "-2"
    assert path.read_text().count("[mcp_servers.reelforge]") == 1

    assert run(capsys, "codex", "--config", str(path), "--remove")[0] == 0
    assert path.read_text() == CODEX
    assert len(backups(path)) == 3 and backups(path)[0].read_text() == CODEX


@pytest.mark.parametrize("host", ["claude-desktop", "claude-code", "cursor", "vscode", "codex"])
def test_print_masks_every_key_and_writes_nothing(host, env, tmp_path, capsys) -> None:
    target = tmp_path / "never-written"
    code, out, err = run(capsys, host, "--print", "--config", str(target))
    assert code == 0, err
    assert KEY not in out + err
    assert not target.exists()
    parsed = tomllib.loads(out)["mcp_servers"] if host == "codex" else json.loads(out)
    server = parsed["reelforge"] if host == "codex" else next(iter(parsed.values()))["reelforge"]
    assert server["env"][KEY_VAR] == (f"${{input:reelforge-{KEY_VAR}}}" if host == "vscode" else MASK)
    assert server["env"]["REELFORGE_HOME"] == env["REELFORGE_HOME"]  # not a secret: shown


def test_no_key_set_says_only_preview_works(settings, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "c.json"
    code, out, _ = run(capsys, "cursor", "--config", str(path))
    assert code == 0 and "preview" in out
    server = json.loads(path.read_text())["mcpServers"]["reelforge"]
    assert "env" not in server and stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("host", "text", "says"), [
    ("claude-desktop", '{"mcpServers": {"a": {"command": "x"}},}', "not valid JSON"),
    ("cursor", "[1, 2]", "not hold a JSON object"),
    ("claude-code", '{"mcpServers": ["x"]}', "not an object"),
    ("vscode", '{\n  // mine\n  "servers": {"m": {"type": "stdio", "command": "x"}},\n}', "comments"),
    ("codex", '[mcp_servers.a]\ncommand = "x"\ncommand = "y"\n', "not valid TOML"),
    ("codex", 'mcp_servers = { reelforge = { command = "old" } }\n', "does not edit"),
])
def test_malformed_file_is_never_overwritten(host, text, says, env, tmp_path, capsys) -> None:
    path = tmp_path / "cfg"
    path.write_text(text)
    for extra in ([], ["--remove"]):
        code, out, err = run(capsys, host, "--config", str(path), *extra)
        assert code == 2, (out, err)
        assert says in err and str(path) in err and "left unchanged" in err
        assert path.read_text() == text and not backups(path)


def test_unknown_host_and_scope_are_usage_errors(env, capsys) -> None:
    code, _, err = run(capsys, "claude-web")
    assert code == 2 and "claude-desktop, claude-code, cursor, vscode, codex" in err
    code, _, err = run(capsys, "claude-desktop", "--scope", "project")
    assert code == 2 and "no project scope" in err


def test_default_places_follow_the_host(env, tmp_path, capsys, monkeypatch) -> None:
    """Without --config: the host's own file (under the test's HOME / CODEX_HOME / project folder)."""
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codexhome"))
    home = tmp_path / "userhome"
    expected = {("claude-desktop", "user"): home / "Claude" / "claude_desktop_config.json",  # XDG_CONFIG_HOME
                ("vscode", "user"): home / "Code" / "User" / "mcp.json",
                ("cursor", "user"): home / ".cursor" / "mcp.json",
                ("claude-code", "user"): home / ".claude.json",
                ("claude-code", "project"): tmp_path / ".mcp.json",
                ("cursor", "project"): tmp_path / ".cursor" / "mcp.json",
                ("vscode", "project"): tmp_path / ".vscode" / "mcp.json",
                ("codex", "user"): tmp_path / "codexhome" / "config.toml"}
    for (host, scope), path in expected.items():
        assert run(capsys, host, "--scope", scope)[0] == 0
        assert path.exists(), (host, scope)
        if scope == "project":
            assert stat.S_IMODE(path.stat().st_mode) == 0o644 and KEY not in path.read_text()


def test_a_linked_config_is_written_through_the_link(env, tmp_path, capsys) -> None:
    real = tmp_path / "dotfiles" / "mcp.json"
    real.parent.mkdir()
    real.write_text(json.dumps(CURSOR))
    link = tmp_path / "mcp.json"
    link.symlink_to(real)
    assert run(capsys, "cursor", "--config", str(link))[0] == 0
    assert link.is_symlink() and "reelforge" in json.loads(real.read_text())["mcpServers"]


@pytest.mark.slow
def test_ask_reads_a_key_without_echo(settings, tmp_path) -> None:
    """--ask on a real terminal (a pty): the typed key is not echoed, not printed, and is written."""
    path = tmp_path / "mcp.json"
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != KEY_VAR}
    proc = subprocess.Popen([sys.executable, "-m", "reelforge", "setup", "cursor", "--ask", "--provider", "runway",
                             "--config", str(path)], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            env={**env, "PYTHONPATH": str(SRC), "HOME": str(tmp_path)})
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, limit: float = 60) -> None:
        nonlocal seen
        while marker not in seen:
            ready, _, _ = select.select([master], [], [], limit)
            assert ready, seen
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                return
            seen += chunk

    try:
        read_until(f"{KEY_VAR} (".encode())
        os.write(master, KEY.encode() + b"\n")
        read_until(b"reelforge added")
        read_until(b"\x00", limit=10)  # the rest, until the child exits
        assert proc.wait(timeout=30) == 0, seen
    finally:
        proc.kill()
        os.close(master)
    assert KEY.encode() not in seen, "the key was echoed or printed"
    assert json.loads(path.read_text())["mcpServers"]["reelforge"]["env"][KEY_VAR] == KEY


def test_ask_where_the_file_takes_references_adds_them_without_asking(env, tmp_path, capsys) -> None:
    """VS Code asks for the keys itself; setup only declares them (it reads nothing from the terminal:
    a prompt here would fail on pytest's captured stdin)."""
    names = [v.name for v in declaration("kling").credentials]
    path = tmp_path / "mcp.json"
    code, out, err = run(capsys, "vscode", "--ask", "--provider", "kling", "--config", str(path))
    assert code == 0, err
    data = json.loads(path.read_text())
    assert data["servers"]["reelforge"]["env"] == {
        "REELFORGE_HOME": env["REELFORGE_HOME"], **{n: f"${{input:reelforge-{n}}}" for n in names}}
    assert [i["id"] for i in data["inputs"]] == [f"reelforge-{n}" for n in names]
    assert all(i["password"] for i in data["inputs"])


def test_unknown_provider_is_a_usage_error(env, tmp_path, capsys) -> None:
    code, _, err = run(capsys, "cursor", "--provider", "nosuch", "--config", str(tmp_path / "x.json"))
    assert code == 2 and "Unknown provider 'nosuch'" in err and not (tmp_path / "x.json").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_unwritable_folder_is_one_error_and_the_file_is_intact(env, tmp_path, capsys) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "mcp.json"
    path.write_text(json.dumps(CURSOR))
    folder.chmod(0o500)
    try:
        code, _, err = run(capsys, "cursor", "--config", str(path))
    finally:
        folder.chmod(0o700)
    assert code == 1 and "cannot be written" in err and json.loads(path.read_text()) == CURSOR


def test_writing_again_replaces_the_old_entry_in_its_place(env, tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"a": {"command": "a"},
                                               "reelforge": {"command": "uvx", "args": ["reelforge"]},
                                               "z": {"command": "z"}}}))
    monkeypatch.setenv(KEY_VAR, KEY + "-new")
    assert run(capsys, "cursor", "--config", str(path))[0] == 0
    servers = json.loads(path.read_text())["mcpServers"]
    assert list(servers) == ["a", "reelforge", "z"]
    assert Path(servers["reelforge"]["command"]).is_absolute() and servers["reelforge"]["env"][KEY_VAR] == KEY + "-new"
    assert json.loads(backups(path)[0].read_text())["mcpServers"]["reelforge"]["command"] == "uvx"


def test_settings_travel_secret_ones_as_keys_and_paths_stay_out_of_shared_files(env, tmp_path, capsys,
                                                                               monkeypatch) -> None:
    """Every REELFORGE_ setting set here goes along (the host passes the server little of its own
    environment); a SecretStr setting is handled like a key, a Path setting is this machine's."""
    token = "http-token-0123456789-SECRET"
    monkeypatch.setenv("REELFORGE_MAX_COST_PER_DAY_USD", "20")
    monkeypatch.setenv("REELFORGE_HTTP_TOKEN", token)
    monkeypatch.setenv("REELFORGE_ALLOWED_INPUT_ROOTS", str(tmp_path))
    user, shared = tmp_path / "user.json", tmp_path / "shared.json"
    code, out, err = run(capsys, "claude-code", "--config", str(user))
    assert code == 0 and token not in out + err
    written = json.loads(user.read_text())["mcpServers"]["reelforge"]["env"]
    assert written["REELFORGE_MAX_COST_PER_DAY_USD"] == "20" and written["REELFORGE_HTTP_TOKEN"] == token
    assert written["REELFORGE_ALLOWED_INPUT_ROOTS"] == str(tmp_path)

    code, out, err = run(capsys, "claude-code", "--scope", "project", "--config", str(shared))
    assert code == 0 and "REELFORGE_ALLOWED_INPUT_ROOTS" in out  # named as left out
    written = json.loads(shared.read_text())["mcpServers"]["reelforge"]["env"]
    assert written["REELFORGE_HTTP_TOKEN"] == "${REELFORGE_HTTP_TOKEN:-}" and token not in shared.read_text()
    assert "REELFORGE_ALLOWED_INPUT_ROOTS" not in written and "REELFORGE_HOME" not in written

    code, out, err = run(capsys, "codex", "--print")
    assert code == 0 and token not in out + err
    assert tomllib.loads(out)["mcp_servers"]["reelforge"]["env"]["REELFORGE_HTTP_TOKEN"] == MASK


def test_codex_entry_in_the_middle_is_moved_out_whole(env, tmp_path, capsys) -> None:
    """An older reelforge table (quoted, commented, with its env table) in the middle of the file:
    cut out whole, the comment before the next table kept, the new one appended."""
    text = ('model = "gpt-5.2"\n\n[mcp_servers."reelforge"]  # added by hand\ncommand = "uvx"\nargs = ["reelforge"]\n\n'
            '[mcp_servers.reelforge.env]\nOLD = "1"\n\n# my fast profile\n[profiles.fast]\nmodel = "gpt-5.2-mini"\n')
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert run(capsys, "codex", "--config", str(path))[0] == 0
    out = path.read_text()
    assert "# my fast profile\n[profiles.fast]" in out and "added by hand" not in out and "OLD" not in out
    data = tomllib.loads(out)
    assert data["profiles"] == {"fast": {"model": "gpt-5.2-mini"}} and data["model"] == "gpt-5.2"
    assert data["mcp_servers"]["reelforge"]["env"][KEY_VAR] == KEY
    assert run(capsys, "codex", "--config", str(path), "--remove")[0] == 0
    assert tomllib.loads(path.read_text()) == {"model": "gpt-5.2", "profiles": {"fast": {"model": "gpt-5.2-mini"}}}
