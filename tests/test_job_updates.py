"""Background job updates: a client subscribed to `reelforge://jobs/{id}` hears every change of that job
until it ends, with no tool call waiting on it (the job is started with wait_seconds=0). The 2026 era
(`subscriptions/listen`) in process and over real HTTP; a legacy session (`resources/subscribe`) over a
real stdio subprocess; and a job driven by another server on the same ledger (seen by re-reading rows)."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from client_utils import make_client
from http_server_utils import bearer_client, serve_http
from mcp import Client, StdioServerParameters
from mcp.types import ResourceUpdatedNotification

from reelforge.settings import Settings

#: A preview long enough (a few seconds of rendering) to change many times after it is subscribed to.
REQUEST = {"prompt": "a slow dolly along a pier", "provider": "preview", "duration_s": 6, "resolution": "720p",
           "fps": 30, "wait_seconds": 0}
TERMINAL = {"succeeded", "failed", "canceled", "unknown"}


async def _status(client: Client, uri: str) -> dict[str, Any]:
    read = await client.read_resource(uri)
    return json.loads(read.contents[0].text)


async def _listen_until_done(watcher: Client, starter: Client) -> tuple[int, dict[str, Any]]:
    """Start a job through `starter`, listen to it through `watcher` (2026 era) until it ends: no tool
    call after the start. Returns the number of updates heard and the job as read at the end."""
    started = await starter.call_tool("generate_video", {"request": REQUEST})
    assert not started.is_error, started.content[0].text
    uri = f"reelforge://jobs/{started.structured_content['job_id']}"
    heard = 0
    with anyio.fail_after(120):
        async with watcher.listen(resource_subscriptions=[uri]) as sub:
            job = await _status(watcher, uri)  # may have moved before the stream opened
            if job["status"] not in TERMINAL:
                async for event in sub:
                    assert event.uri == uri
                    heard += 1
                    job = await _status(watcher, uri)
                    if job["status"] in TERMINAL:
                        break
    return heard, job


async def test_listen_hears_a_job_until_it_ends(settings: Settings) -> None:
    async with make_client(settings) as client:
        heard, job = await _listen_until_done(client, client)
    assert job["status"] == "succeeded", job
    assert heard >= 2  # progress along the way, then the end


async def test_a_job_driven_by_another_server_is_heard_from_the_ledger(settings: Settings) -> None:
    # Two servers on one ledger: the job runs in the first; the second only sees its row change.
    async with make_client(settings) as driver, make_client(settings) as watcher:
        heard, job = await _listen_until_done(watcher, driver)
    assert job["status"] == "succeeded", job
    assert heard >= 2


@pytest.mark.slow
async def test_legacy_subscribe_over_stdio(tmp_path: Path) -> None:
    env = {"REELFORGE_HOME": str(tmp_path / "home"), "PATH": os.environ.get("PATH", ""),
           "HOME": os.environ.get("HOME", str(tmp_path)),
           **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}  # a worktree's source, if run so
    params = StdioServerParameters(command=sys.executable, args=["-m", "reelforge", "serve"], env=env, cwd=str(tmp_path))
    updates: list[str] = []
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        nonlocal changed
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            changed.set()

    async with Client(params, mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.resources.subscribe is True
        started = await client.call_tool("generate_video", {"request": REQUEST})
        uri = f"reelforge://jobs/{started.structured_content['job_id']}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resources/subscribe is deprecated in the 2026 era, not in this one
            await client.subscribe_resource(uri)
        with anyio.fail_after(120):
            job = await _status(client, uri)
            while job["status"] not in TERMINAL:
                await changed.wait()
                changed = anyio.Event()
                job = await _status(client, uri)
    assert job["status"] == "succeeded", job
    assert len(updates) >= 2 and set(updates) == {uri}


@pytest.mark.slow
async def test_listen_over_http(tmp_path: Path) -> None:
    token = "t0ken-for-updates-0123456789abcdef0123456789"
    url, proc = serve_http({"REELFORGE_HOME": str(tmp_path / "home"), "REELFORGE_HTTP_TOKEN": token})
    try:
        async with bearer_client(url, token) as client:
            heard, job = await _listen_until_done(client, client)
    finally:
        proc.kill()
    assert job["status"] == "succeeded", job
    assert heard >= 2
