"""Streamable HTTP needs a bearer token: refused without it, served with it, never started without one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, port: int, token: str | None) -> subprocess.Popen:
    env = {**os.environ, "REELFORGE_HOME": str(tmp_path / "home")}
    env.pop("REELFORGE_HTTP_TOKEN", None)
    if token:
        env["REELFORGE_HTTP_TOKEN"] = token
    return subprocess.Popen([sys.executable, "-m", "reelforge", "serve", "--transport", "http", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_http_requires_a_token(tmp_path: Path) -> None:
    port = _free_port()
    proc = _serve(tmp_path, port, "s3cret-token-value-0f9e8d7c6b5a4f3e2d1c")
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                refused = httpx.post(url, json=INIT, headers=HEADERS, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        assert refused.status_code == 401
        wrong = httpx.post(url, json=INIT, headers={**HEADERS, "Authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401
        ok = httpx.post(url, json=INIT, headers={**HEADERS, "Authorization": "Bearer s3cret-token-value-0f9e8d7c6b5a4f3e2d1c"}, timeout=10)
        assert ok.status_code == 200 and '"serverInfo"' in ok.text and "reelforge" in ok.text
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert b"s3cret-token-value-0f9e8d7c6b5a4f3e2d1c" not in err  # the token never reaches the log


@pytest.mark.slow
def test_http_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    proc = _serve(tmp_path, _free_port(), None)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"REELFORGE_HTTP_TOKEN" in err
