"""Native MCP Tasks (SEP-2663): a client declaring `io.modelcontextprotocol/tasks` gets a task whose id is
the ledger job id, polls it with `tasks/get` to the same result the plain path returns, and can cancel
it; a client that does not declare it gets the plain job handle. In process, over a real stdio
subprocess and over real HTTP (with two users: a task is visible only to its owner)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from client_utils import make_client
from http_server_utils import serve_http
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from tasks_client import CreateTaskResult, TasksClient, poll, task_request

from reelforge.media.probe import probe
from reelforge.settings import Settings

PREVIEW = {"prompt": "a lighthouse at dusk", "provider": "preview", "duration_s": 1, "resolution": "360p"}
#: Long enough to be mid-render when canceled.
LONG = {"prompt": "a long slow pan", "provider": "preview", "duration_s": 30, "resolution": "720p", "fps": 30}


async def start_task(client: Client, request: dict[str, Any], tool: str = "generate_video") -> CreateTaskResult:
    task = await client.session.call_tool(tool, {"request": request}, allow_claimed=True)
    assert isinstance(task, CreateTaskResult), task
    return task


def _ack(result: dict[str, Any]) -> bool:
    """An empty acknowledgement (the SDK stamps its serverInfo `_meta` on every 2026-era result)."""
    return {k: v for k, v in result.items() if k != "_meta"} == {"resultType": "complete"}


async def _task_round_trip(client: Client, plain: Client) -> None:
    """The checks every transport shares: task -> tasks/get -> the plain path's result; plain -> handle."""
    task = await start_task(client, PREVIEW)
    assert task.status == "working" and task.task_id.startswith("job_")
    assert task.ttl_ms is None and task.poll_interval_ms is not None and 1000 <= task.poll_interval_ms <= 30000
    assert task.created_at.endswith("Z")
    final = await poll(client.session, task.task_id)
    assert final["status"] == "completed", final
    result = final["result"]
    assert result.get("isError") is not True
    job = result["structuredContent"]
    assert job["job_id"] == task.task_id and job["status"] == "succeeded"
    assert probe(job["output"]["path"]).frames == 24
    # The same CallToolResult the plain path returns for that job.
    same = await plain.call_tool("get_job", {"job_id": task.task_id})
    assert same.structured_content == job
    assert same.content[0].text == result["content"][0]["text"]

    handle = await plain.call_tool("generate_video", {"request": {**PREVIEW, "wait_seconds": 0}})
    assert not handle.is_error and handle.structured_content["job_id"].startswith("job_")


async def test_task_then_result_and_plain_client_gets_handle(settings: Settings) -> None:
    async with make_client(settings, extensions=[TasksClient()]) as client:
        assert TasksClient.identifier in client.server_capabilities.extensions
        await _task_round_trip(client, client)
        # Client.call_tool resolves a task transparently through the extension's claim.
        resolved = await client.call_tool("generate_video", {"request": PREVIEW})
        assert resolved.structured_content["status"] == "succeeded"


async def test_a_batch_task_ends_with_the_batch_result(settings: Settings) -> None:
    async with make_client(settings, extensions=[TasksClient()]) as client:
        task = await start_task(client, {"items": [PREVIEW, {**PREVIEW, "prompt": "a harbour at dawn"}]},
                                tool="generate_batch")
        final = await poll(client.session, task.task_id)
        assert final["status"] == "completed", final
        batch = final["result"]["structuredContent"]["batch"]
        assert batch["counts"] == {"succeeded": 2} and Path(batch["sheet_path"]).exists()
        same = await client.call_tool("get_job", {"job_id": task.task_id})
        assert same.structured_content == final["result"]["structuredContent"]


async def test_cancel_a_task(settings: Settings) -> None:
    async with make_client(settings, extensions=[TasksClient()]) as client:
        task = await start_task(client, LONG)
        assert _ack(await task_request(client.session, "tasks/cancel", task.task_id))
        final = await poll(client.session, task.task_id, timeout=60)
        assert final["status"] == "cancelled" and "result" not in final, final
        job = await client.call_tool("get_job", {"job_id": task.task_id})
        assert job.structured_content["status"] == "canceled"


async def test_task_methods_refuse_unknown_ids_and_undeclared_clients(settings: Settings) -> None:
    async with make_client(settings, extensions=[TasksClient()]) as client:
        with pytest.raises(MCPError) as unknown:
            await task_request(client.session, "tasks/get", "job_0000000000000000")
        assert unknown.value.error.code == -32602
        task = await start_task(client, PREVIEW)
        # We never ask for input: an update is acknowledged and its responses (for nothing asked) ignored.
        ack = await task_request(client.session, "tasks/update", task.task_id,
                                 input_responses={"name": {"action": "accept", "content": {}}})
        assert _ack(ack)
        assert (await poll(client.session, task.task_id))["status"] == "completed"
    async with make_client(settings) as plain:
        with pytest.raises(MCPError) as undeclared:
            await task_request(plain.session, "tasks/get", task.task_id)
        assert undeclared.value.error.code == -32021


async def test_a_failed_job_completes_with_is_error(settings: Settings) -> None:
    pytest.importorskip("reelforge.providers.minimax")
    from emulators.minimax import API_KEY, MiniMaxEmulator

    with MiniMaxEmulator() as emu:
        emu.fail_next = ("1027", "output video sensitive")
        paid = settings.with_provider_env(MINIMAX_API_KEY=API_KEY, MINIMAX_API_HOST=emu.url)
        async with make_client(paid, extensions=[TasksClient()]) as client:
            task = await start_task(client, {"prompt": "a paid clip", "provider": "minimax", "confirm": True})
            final = await poll(client.session, task.task_id, timeout=60, at_most_s=0.2)
    # Polled at the model's pace: a real MiniMax clip takes minutes, a preview seconds.
    assert task.poll_interval_ms > 1000
    assert final["status"] == "completed", final  # a job failure is a tool error, not a JSON-RPC failure
    assert final["result"]["isError"] is True
    assert final["result"]["structuredContent"]["status"] == "failed"


@pytest.mark.parametrize("approve", [True, False])
async def test_approval_comes_before_the_task(settings: Settings, approve: bool) -> None:
    pytest.importorskip("reelforge.providers.minimax")
    from emulators.minimax import API_KEY, MiniMaxEmulator
    from mcp.types import ElicitResult

    asked: list[str] = []

    async def answer(ctx: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": approve})

    with MiniMaxEmulator() as emu:
        paid = settings.with_provider_env(MINIMAX_API_KEY=API_KEY, MINIMAX_API_HOST=emu.url).model_copy(
            update={"confirm_above_usd": 0.05})
        tasks = TasksClient(at_most_s=0.2)  # the emulator is far faster than MiniMax
        async with make_client(paid, extensions=[tasks], elicitation_callback=answer) as client:
            result = await client.call_tool("generate_video", {"request": {"prompt": "a paid clip", "provider": "minimax"}})
            if approve:  # asked, then a task, polled to the end
                assert [t.task_id for t in tasks.tasks] == [result.structured_content["job_id"]]
                assert result.structured_content["status"] == "succeeded", result
            else:  # asked, refused: no task, no job
                assert result.is_error and tasks.tasks == []
                assert (await client.call_tool("list_jobs", {})).structured_content["jobs"] == []
        assert len(asked) == 1 and "Spend it?" in asked[0]
        assert emu.count("create") == (1 if approve else 0)


@pytest.mark.slow
async def test_tasks_over_stdio(tmp_path: Path) -> None:
    env = {"REELFORGE_HOME": str(tmp_path / "home"), "REELFORGE_ALLOWED_INPUT_ROOTS": str(tmp_path),
           "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(tmp_path)),
           **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}  # a worktree's source, if run so
    params = StdioServerParameters(command=sys.executable, args=["-m", "reelforge", "serve"], env=env, cwd=str(tmp_path))
    async with Client(params, extensions=[TasksClient()]) as client, Client(params) as plain:
        await _task_round_trip(client, plain)


@asynccontextmanager
async def _http_client(url: str, token: str, **kwargs: Any) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(url, http_client=http), **kwargs) as client:
        yield client


@pytest.mark.slow
async def test_tasks_over_http_are_their_owners_only(tmp_path: Path) -> None:
    from test_tiers import ALICE_TOKEN, BOB_TOKEN, write_tiers

    url, proc = serve_http({"REELFORGE_HOME": str(tmp_path / "home"),
                            "REELFORGE_TIERS_FILE": str(write_tiers(tmp_path))})
    try:
        async with _http_client(url, BOB_TOKEN, extensions=[TasksClient()]) as bob, \
                _http_client(url, BOB_TOKEN) as bob_plain, \
                _http_client(url, ALICE_TOKEN, extensions=[TasksClient()]) as alice:
            await _task_round_trip(bob, bob_plain)
            task = await start_task(bob, PREVIEW)
            for method in ("tasks/get", "tasks/cancel"):
                with pytest.raises(MCPError) as hidden:  # someone else's task does not exist for alice
                    await task_request(alice.session, method, task.task_id)
                assert hidden.value.error.code == -32602
            assert (await poll(bob.session, task.task_id))["status"] == "completed"
    finally:
        proc.kill()
