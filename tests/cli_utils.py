"""Running the real `reelforge` console script (the venv's entry point) in a new process, on a home of
its own, with no provider key or REELFORGE_* setting from the developer's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from reelforge.providers.registry import declarations

#: Every variable a provider declares (keys, base URLs): none of the developer's reaches a test.
PROVIDER_ENV = frozenset(v.name for d in declarations().values() for v in d.variables)

#: The console script installed beside this interpreter (what `pip install reelforge` puts on PATH).
REELFORGE = str(Path(sys.executable).with_name("reelforge"))


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_") and k not in PROVIDER_ENV}
    env.update({"REELFORGE_HOME": str(home), "REELFORGE_POLL_MIN_INTERVAL_S": "0.02",
                "REELFORGE_POLL_MAX_INTERVAL_S": "0.1", "COLUMNS": "200", **extra})
    return env


def reelforge(env: dict[str, str], *argv: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REELFORGE, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start(env: dict[str, str], *argv: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([REELFORGE, *argv], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]
