"""The MCP Inspector CLI (a client we did not write) lists, calls and reads the real server.

`.ci/run` installs the pinned Inspector and sets REELFORGE_REQUIRE_INSPECTOR=1, so in CI a missing
Inspector fails these tests instead of skipping them. Each Inspector call spawns a fresh server
process; they share one data directory, so a job created by one call is read back by the next.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reelforge.media.probe import probe

PINNED = "2.12.0"
TOOLS = {"generate_video", "estimate_cost", "extend_video", "make_loop", "compose_timeline", "get_job",
         "list_jobs", "cancel_job", "list_models"}


def _inspector() -> str:
    candidates = [os.environ.get("REELFORGE_INSPECTOR_BIN"), "/tmp/inspector/node_modules/.bin/mcp-inspector",
                  shutil.which("mcp-inspector")]
    for c in candidates:
        if c and Path(c).exists():
            return c
    if os.environ.get("REELFORGE_REQUIRE_INSPECTOR"):
        pytest.fail("MCP Inspector CLI not installed (see .ci/run)")
    pytest.skip(f"MCP Inspector CLI {PINNED} not installed")


@pytest.fixture
def inspect(tmp_path: Path):
    binary = _inspector()
    home = tmp_path / "home"

    def run(*args: str) -> dict:
        cmd = [binary, "--cli", "-e", f"REELFORGE_HOME={home}", "-e", f"REELFORGE_ALLOWED_INPUT_ROOTS={tmp_path}",
               sys.executable, "-m", "reelforge", "serve", *args]
        env = {**os.environ, "MCP_INSPECTOR_SECRET_STORE": "memory"}
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:] + out.stdout[-2000:]
        return json.loads(out.stdout)

    return run


def test_inspector_lists_calls_and_reads(inspect) -> None:
    tools = inspect("--method", "tools/list")["tools"]
    assert {t["name"] for t in tools} == TOOLS
    for tool in tools:
        assert tool.get("title") and tool.get("annotations") is not None and tool.get("outputSchema")

    request = {"prompt": "Inspector says hello", "provider": "preview", "duration_s": 2.5, "fps": 24,
               "resolution": "360p", "wait_seconds": 120}
    result = inspect("--method", "tools/call", "--tool-name", "generate_video", "--tool-arg",
                     f"request={json.dumps(request)}")
    job = result["structuredContent"]
    assert job["status"] == "succeeded", result
    info = probe(job["output"]["path"])
    assert abs(info.duration_s - 2.5) <= 1 / 24 + 1e-6
    assert info.frames == 60

    resources = {r["uri"] for r in inspect("--method", "resources/list")["resources"]}
    assert {"reelforge://models", "reelforge://jobs", "reelforge://guide"} <= resources
    templates = {t["uriTemplate"] for t in inspect("--method", "resources/templates/list")["resourceTemplates"]}
    assert {"reelforge://jobs/{id}", "reelforge://models/{provider}/{model}"} <= templates
    read = inspect("--method", "resources/read", "--uri", f"reelforge://jobs/{job['job_id']}")
    assert json.loads(read["contents"][0]["text"])["status"] == "succeeded"
    models = inspect("--method", "resources/read", "--uri", "reelforge://models")
    assert any(m["provider"] == "preview" for m in json.loads(models["contents"][0]["text"])["models"])
