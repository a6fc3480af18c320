"""server.json, the README, the settings and the provider declarations stay in step."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import SecretStr

from reelforge import __version__
from reelforge.providers.registry import declarations
from reelforge.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
#: Variables read outside Settings (logging level at serve time).
EXTRA = {"REELFORGE_LOG_LEVEL"}


def _env_names() -> dict[str, bool]:
    """Every REELFORGE_* setting, with whether it is a secret (provider variables: `_declared`)."""
    names = {}
    for field_name, info in Settings.model_fields.items():
        if info.exclude:  # provider_env: explicit values for the declared variables, not a variable
            continue
        alias = info.validation_alias
        name = alias.choices[0] if alias is not None else f"REELFORGE_{field_name.upper()}"
        names[name] = info.annotation is not None and "SecretStr" in str(info.annotation)
    return names


def test_server_json_lists_every_setting_and_marks_keys_secret() -> None:
    data = json.loads((ROOT / "server.json").read_text())
    assert data["version"] == __version__
    package = data["packages"][0]
    assert package["registryType"] == "pypi" and package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"} and package["version"] == __version__
    listed = {e["name"]: e for e in package["environmentVariables"]}
    for name, secret in _env_names().items():
        assert name in listed, f"server.json lacks {name}"
        assert bool(listed[name].get("isSecret")) == secret, name
    assert EXTRA <= set(listed)
    assert len(data["description"]) <= 100


def test_readme_marker_and_settings_table() -> None:
    readme = (ROOT / "README.md").read_text()
    name = json.loads((ROOT / "server.json").read_text())["name"]
    assert re.search(rf"<!-- mcp-name: {re.escape(name)} -->", readme)
    for env in [*_env_names(), *EXTRA]:
        assert env in readme, f"README does not mention {env}"


def test_secret_fields_are_secret_types() -> None:
    assert "SecretStr" in str(Settings.model_fields["http_token"].annotation)
    assert isinstance(Settings(http_token="x").http_token, SecretStr)
    # Provider variables given explicitly are secrets too (never shown in a repr).
    configured = Settings().with_provider_env(SOME_PROVIDER_KEY="sk-abc123")
    assert "sk-abc123" not in repr(configured) and configured.provider_value("SOME_PROVIDER_KEY") == "sk-abc123"


def test_server_json_lists_every_declared_provider_variable() -> None:
    """Each installed provider's declaration is the source: its variables, secrecy and defaults."""
    package = json.loads((ROOT / "server.json").read_text())["packages"][0]
    listed = {e["name"]: e for e in package["environmentVariables"]}
    for decl in declarations().values():
        for var in decl.variables:
            entry = listed.get(var.name)
            assert entry is not None, f"server.json lacks {var.name} ({decl.name})"
            assert bool(entry.get("isSecret")) == var.secret, var.name
            assert entry["description"] == var.description, var.name
            assert entry.get("default") == var.default, var.name
            assert entry["isRequired"] is False, var.name  # every provider is optional for the server


def test_readme_provider_table_matches_the_declarations() -> None:
    """Rows name their provider; an installed provider's rows are exactly its declared variables."""
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", readme, re.MULTILINE)
    by_provider: dict[str, dict[str, tuple[str, str, str]]] = {}
    for name, provider, kind, default, meaning in rows:
        by_provider.setdefault(provider, {})[name] = (kind.strip(), default.strip(), meaning.strip())
    for decl in declarations().values():
        expected = {
            v.name: (v.kind + ("" if v.required or v.kind == "url" else ", optional"),
                     f"`{v.default}`" if v.default else "(none)", v.description)
            for v in decl.variables
        }
        assert by_provider.get(decl.name, {}) == expected, f"README's provider table disagrees with {decl.name}"
