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
         "list_jobs", "cancel_job", "list_models", "generate_batch", "save_character"}


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

    def run(*args: str, era: str | None = None, server: list[str] | None = None, env: tuple[str, ...] = ()) -> dict:
        extra = [f"--protocol-era={era}"] if era else []
        for var in env:
            extra += ["-e", var]
        cmd = [binary, "--cli", *extra, "-e", f"REELFORGE_HOME={home}", "-e", f"REELFORGE_ALLOWED_INPUT_ROOTS={tmp_path}",
               sys.executable, *(server or ["-m", "reelforge", "serve"]), *args]
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


JOINS = [("crossfade", None, 0.5), ("fade_black", None, 0.5), ("dissolve", None, 0.25), ("wipe", "left", 0.5),
         ("slide", "up", 0.5), ("zoom", None, 0.5), ("cut", None, 0.0), ("fade_white", None, 0.5),
         ("wipe", "down", 0.25)]


def test_inspector_composes_ten_mixed_clips(inspect, tmp_path: Path) -> None:
    """Issue 3: two frame rates, two sizes, one clip without audio, six kinds of transition, a title
    and a music bed; the probed output has exactly the expected frame count."""
    from tests.media_utils import make_clip

    clips, expected = [], 0
    for i in range(10):
        fps, size = (24, (160, 90)) if i % 2 == 0 else (30, (320, 180))
        seconds = 1.0 + 0.25 * (i % 3)
        path = make_clip(tmp_path / f"c{i}.mp4", seconds, size, fps, audio=(i != 3), pattern="testsrc2")
        clip = {"path": str(path)}
        if i < 9:
            kind, direction, d = JOINS[i]
            clip["transition"] = {"kind": kind, "duration_s": d, **({"direction": direction} if direction else {})}
        clips.append(clip)
        expected += round(seconds * 24)
    expected -= sum(round(d * 24) for kind, _, d in JOINS if kind != "cut")
    music = make_clip(tmp_path / "music.mp4", 3.0, (32, 32), 24)
    request = {"name": "ten", "wait_seconds": 240, "timeline": {
        "preset": "draft", "clips": clips,
        "titles": [{"text": "Ten clips, six kinds of transition", "start_s": 0.5, "end_s": 4.0}],
        "audio_bed": {"path": str(music), "volume": 0.4, "fade_in_s": 0.5, "fade_out_s": 1.0}}}
    result = inspect("--method", "tools/call", "--tool-name", "compose_timeline", "--tool-arg",
                     f"request={json.dumps(request)}")
    job = result["structuredContent"]
    assert job["status"] == "succeeded", result
    info = probe(job["output"]["path"])
    assert info.frames == expected and (info.width, info.height, info.fps) == (854, 480, 24.0)
    assert info.has_audio and Path(job["output"]["otio_path"]).exists()


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_the_inspector_gets_a_task_when_it_declares_the_extension(inspect, tmp_path: Path, era: str) -> None:
    """MCP Inspector declares `io.modelcontextprotocol/tasks` on 2026-07-28 connections: there a work tool
    answers with a task (its id the job id) and the Inspector polls `tasks/get` to the result; on a
    2025-era connection it gets the plain result. Its CLI prints only the final result, so the server
    records what went over the wire (tests/recording_server.py)."""
    record = tmp_path / f"record-{era}.jsonl"
    request = {"prompt": "tasks from the Inspector", "provider": "preview", "duration_s": 1.5, "wait_seconds": 60}
    result = inspect("--method", "tools/call", "--tool-name", "generate_video", "--tool-arg",
                     f"request={json.dumps(request)}", era=era, env=(f"REELFORGE_TEST_RECORD={record}",),
                     server=[str(Path(__file__).with_name("recording_server.py"))])
    job = result["structuredContent"]
    assert job["status"] == "succeeded", result
    assert abs(probe(job["output"]["path"]).duration_s - 1.5) < 0.05
    seen = [json.loads(line) for line in record.read_text().splitlines()]
    [answer] = [e for e in seen if e.get("tool") == "generate_video"]
    polls = [e for e in seen if e.get("method") == "tasks/get"]
    if era == "modern":
        assert answer["protocol"] == "2026-07-28" and answer["task_id"] == job["job_id"], seen
        assert polls and {p["task_id"] for p in polls} == {job["job_id"]} and polls[-1]["status"] == "completed", seen
    else:
        assert answer["task_id"] is None and not polls, seen
