"""A real client side of the MCP Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663), as a
task-aware host would have it: it declares the extension, takes a `resultType: "task"` answer, and
polls `tasks/get` at the server's `pollIntervalMs` until the task ends. The SDK ships no tasks client.
"""

from __future__ import annotations

from typing import Any, Literal

import anyio
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp_types import CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field, TypeAdapter

TASKS = "io.modelcontextprotocol/tasks"
ENDED = {"completed", "failed", "cancelled"}


class CreateTaskResult(Result):
    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str
    status: str
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None
    status_message: str | None = None


class TaskIdParams(RequestParams):
    task_id: str
    input_responses: dict[str, Any] | None = None


class TaskRequest(Request[TaskIdParams, str]):
    name_param = "taskId"  # the spec's Mcp-Name routing header carries the task id


_ANY = TypeAdapter(dict[str, Any])


async def task_request(session: Any, method: str, task_id: str, **extra: Any) -> dict[str, Any]:
    """`tasks/get`, `tasks/update` or `tasks/cancel`; the raw result (MCPError on a JSON-RPC error)."""
    return await session.send_request(TaskRequest(method=method, params=TaskIdParams(task_id=task_id, **extra)), _ANY)


async def poll(session: Any, task_id: str, timeout: float = 120.0, at_most_s: float | None = None) -> dict[str, Any]:
    """`tasks/get` at the server's suggested interval (or every `at_most_s`, for an emulated provider
    far faster than the real one) until the task ends; the last answer."""
    with anyio.fail_after(timeout):
        while True:
            task = await task_request(session, "tasks/get", task_id)
            if task["status"] in ENDED:
                return task
            await anyio.sleep(min(task.get("pollIntervalMs", 1000) / 1000, at_most_s or float("inf")))


class TasksClient(ClientExtension):
    """Declares the extension; `Client.call_tool` then resolves a task answer by polling it (each task
    it was given is kept in `tasks`)."""

    identifier = TASKS

    def __init__(self, at_most_s: float | None = None) -> None:
        self.tasks: list[CreateTaskResult] = []
        self.at_most_s = at_most_s

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve)]

    async def _resolve(self, task: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
        self.tasks.append(task)
        final = await poll(ctx.session, task.task_id, at_most_s=self.at_most_s)
        if final["status"] != "completed":
            return CallToolResult(content=[], is_error=True, structured_content={"task": final})
        return CallToolResult.model_validate(final["result"])
