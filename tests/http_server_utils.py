"""A real `reelforge serve --transport http` process, and MCP clients that reach it with a bearer
token: shared by the tiers, replica and benchmark scripts. Every wait is bounded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(env_vars: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REELFORGE_", "RUNWAYML_"))}
    env.update(env_vars)
    return env


def start_worker(env_vars: dict[str, str], *queues: str, log: Path) -> subprocess.Popen:
    """A `reelforge worker --queue …` process (its log in `log`), returned once ready (within 60 s)."""
    args = [arg for queue in queues for arg in ("--queue", queue)]
    with log.open("ab") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "reelforge", "worker", *args], env=_env(env_vars),
                                stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if "reelforge worker ready" in log.read_text(errors="replace"):
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"reelforge worker did not start: {log.read_text(errors='replace')[-2000:]}")


def serve_http(env_vars: dict[str, str], *, keep_stderr: bool = True,
               log: Path | None = None) -> tuple[str, subprocess.Popen]:
    """Start a server with only `env_vars` among REELFORGE_*/RUNWAYML_* variables; return its /mcp
    URL once it answers (within 60 s) and the process (stderr piped for log checks, or to `log`)."""
    port = free_port()
    env = _env(env_vars)
    sink = log.open("ab") if log is not None else subprocess.PIPE if keep_stderr else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "reelforge", "serve", "--transport", "http", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=sink)
    if log is not None:
        sink.close()  # the child holds its own copy
        keep_stderr = False
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=2)
            return url, proc
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                why = proc.stderr.read().decode()[-2000:] if keep_stderr and proc.stderr else ""
                raise RuntimeError(f"reelforge serve did not start: {why}") from None
            time.sleep(0.2)


@asynccontextmanager
async def bearer_client(url: str, token: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client
