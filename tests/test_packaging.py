"""server.json, the README and the settings stay in step."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import SecretStr

from reelforge import __version__
from reelforge.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
#: Variables read outside Settings (logging level at serve time).
EXTRA = {"REELFORGE_LOG_LEVEL"}


def _env_names() -> dict[str, bool]:
    names = {}
    for field_name, info in Settings.model_fields.items():
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
    for field_name in ("runway_api_key", "luma_api_key", "minimax_api_key", "replicate_api_token", "http_token"):
        assert "SecretStr" in str(Settings.model_fields[field_name].annotation)
    assert isinstance(Settings(http_token="x").http_token, SecretStr)
