"""`make_client(settings)`: a fresh in-memory MCP `Client` on a server built for those settings;
`start_job` and `settle` drive a work-starting tool through the job handle.

A module of its own (not conftest) so test files in any folder can import it by one unambiguous name.
"""

from __future__ import annotations

import anyio

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client

from reelforge.server import build_server
from reelforge.settings import Settings


@asynccontextmanager
async def make_client(settings: Settings, **kwargs: object) -> AsyncIterator[Client]:
    async with Client(build_server(settings), raise_exceptions=True, **kwargs) as client:
        yield client


TERMINAL = {"succeeded", "failed", "canceled", "unknown"}


async def start_job(client: Any, tool: str, request: dict[str, Any]) -> str:
    """Call a work-starting tool without waiting; return the job id."""
    result = await client.call_tool(tool, {"request": {**request, "wait_seconds": 0}})
    assert not result.is_error, result.content[0].text
    return result.structured_content["job_id"]


async def settle(client: Any, job_id: str) -> dict[str, Any]:
    """Wait (bounded) through `get_job` until the job is terminal; return its view."""
    for _ in range(20):
        job = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 10})).structured_content
        if job["status"] in TERMINAL:
            return job
    raise AssertionError(f"job {job_id} never finished")


async def until(predicate, timeout: float = 10.0) -> None:
    """Wait (bounded) until `predicate()` holds, e.g. until an emulator saw a request."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)
