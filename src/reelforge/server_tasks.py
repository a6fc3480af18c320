"""Native MCP Tasks (`io.modelcontextprotocol/tasks`, SEP-2663, spec 2026-07-28) over the job ledger.

A work tool called by a 2026-era client whose request declares the extension answers with a task
instead of waiting: the task id IS the ledger job id, handed out only after the studio's start has
committed the row (so `tasks/get` resolves it at once, as the spec requires). Everything before the
start is unchanged, the cost approval included: an approval question (MRTR `input_required`), a
refusal or a bad argument comes back as the ordinary result, and no task exists. Every other client
gets the plain job handle; the ledger and the submit/poll tools stay the source of truth, and this
module is only an adapter over them.

Status mapping: queued/submitting/running/downloading -> working; succeeded -> completed with the
very CallToolResult the plain path returns; failed or unknown -> completed with `isError` (a job
failure is a tool error, never the JSON-RPC `failed` status); canceled -> cancelled.
We never ask the client for input while a job runs, so no task is ever `input_required`.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.server import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, CallToolRequestParams, RequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from reelforge.jobs.status import JobStatus
from reelforge.server_context import caller

if TYPE_CHECKING:
    from reelforge.jobs.job import Job
    from reelforge.studio.core import Studio

log = logging.getLogger(__name__)

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
#: The tools whose work becomes a task; the read-only ones answer at once anyway.
WORK_TOOLS = frozenset({"generate_video", "extend_video", "make_loop", "compose_timeline", "generate_batch"})
#: Poll about ten times over the job's expected time, within these bounds (ms).
POLL_MIN_MS, POLL_MAX_MS, POLL_DEFAULT_MS = 1000, 30000, 2000

#: Set by the interceptor around a call that may become a task; the tool body puts the started
#: job's id in it (`started_as_task`). A list, so the body's write is seen by the interceptor.
_task_slot: ContextVar[list[str] | None] = ContextVar("reelforge_task_slot", default=None)


def started_as_task(job_id: str) -> bool:
    """Called by a work tool once its job row is committed: True when this call becomes a task
    (the tool then returns at once instead of waiting; the interceptor answers with the task)."""
    slot = _task_slot.get()
    if slot is None:
        return False
    slot.append(job_id)
    return True


class TaskParams(RequestParams):
    task_id: str = Field(alias="taskId")


class UpdateTaskParams(TaskParams):
    input_responses: dict[str, Any] | None = Field(default=None, alias="inputResponses")


class ReelforgeTasks(Extension):
    """The tasks extension: `tools/call` interception plus `tasks/get`, `tasks/update`, `tasks/cancel`."""

    identifier = TASKS_EXTENSION

    def methods(self) -> list[MethodBinding]:
        modern = frozenset(MODERN_PROTOCOL_VERSIONS)  # the extension exists only in the 2026 era
        return [MethodBinding("tasks/get", TaskParams, _get, modern),
                MethodBinding("tasks/update", UpdateTaskParams, _update, modern),
                MethodBinding("tasks/cancel", TaskParams, _cancel, modern)]

    async def intercept_tool_call(self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any],
                                  call_next: CallNext) -> HandlerResult:
        if params.name not in WORK_TOOLS or not _declares_tasks(ctx):
            return await call_next(ctx)
        slot: list[str] = []
        token = _task_slot.set(slot)
        try:
            result = await call_next(ctx)
        finally:
            _task_slot.reset(token)
        if not slot:  # approval question, refusal or bad input: the ordinary answer, no task
            return result
        studio = await _studio(ctx)
        job = studio.store.require(slot[0])
        return {"resultType": "task", **_task(studio, job)}


def _declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    # Task results are 2026-era vocabulary: a legacy wire cannot carry them, whatever it declares.
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and TASKS_EXTENSION in capabilities.extensions)


async def _studio(ctx: ServerRequestContext[Any, Any]) -> Studio:
    try:
        return await ctx.lifespan_context.get()
    except ToolError as exc:
        raise MCPError(INTERNAL_ERROR, str(exc)) from None


async def _job(ctx: ServerRequestContext[Any, Any], params: TaskParams) -> tuple[Studio, Job]:
    """The caller's own job behind a task id; anyone else's is 'not found' (-32602, per the spec)."""
    from reelforge.errors import JobNotFound
    from reelforge.studio.ownership import visible_job

    require_client_extension(ctx, TASKS_EXTENSION)
    studio = await _studio(ctx)
    try:
        return studio, visible_job(studio, params.task_id, caller())
    except JobNotFound:
        raise MCPError(INVALID_PARAMS, f"Failed to retrieve task: no task '{params.task_id}'.") from None


async def _get(ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
    studio, job = await _job(ctx, params)
    task = _task(studio, job)
    if task["status"] == "completed":  # the plain path's result; a failed job's is a tool error
        from reelforge.tool_results import result_of

        result = result_of(studio, job)
        if job.status is not JobStatus.SUCCEEDED:
            result = result.model_copy(update={"is_error": True})
        task["result"] = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return task


async def _update(ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> dict[str, Any]:
    await _job(ctx, params)
    if params.input_responses:
        # No reelforge task ever asks for input, so no key is outstanding: the spec says to ignore them.
        log.info("tasks/update for %s carried %d input response(s) for requests never made; ignored",
                 params.task_id, len(params.input_responses))
    return {}


async def _cancel(ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
    studio, job = await _job(ctx, params)
    await studio.cancel(job.id)  # the same cancel as cancel_job (the provider is told where it can be)
    return {}


def _task(studio: Studio, job: Job) -> dict[str, Any]:
    """The spec's `Task` for a job (no result inline)."""
    status = _status(job.status)
    task: dict[str, Any] = {
        "taskId": job.id, "status": status, "createdAt": _iso(job.created_at), "lastUpdatedAt": _iso(job.updated_at),
        "ttlMs": None,  # the ledger keeps jobs until the operator prunes them
        "pollIntervalMs": poll_interval_ms(studio, job),
    }
    message = _status_message(job)
    if message:
        task["statusMessage"] = message
    return task


def _status(status: JobStatus) -> str:
    if status is JobStatus.CANCELED:
        return "cancelled"
    return "completed" if status.terminal else "working"


def _status_message(job: Job) -> str | None:
    if job.status.terminal:
        return f"{job.status.value}: [{job.error_code}] {job.error_message}" if job.error_code else job.status.value
    pct = f" {job.progress * 100:.0f}%" if job.progress is not None else ""
    return f"{job.status.value}{pct} ({job.stage or 'working'})"


def poll_interval_ms(studio: Studio, job: Job) -> int:
    """About a tenth of the job's expected time: its current ETA, else the model's typical time."""
    expected = job.eta_s
    if expected is None and job.provider and job.model:
        entry = studio.catalog.find(job.provider, job.model)
        expected = entry.typical_seconds if entry is not None else None
    if not expected:
        return POLL_DEFAULT_MS
    return int(min(POLL_MAX_MS, max(POLL_MIN_MS, expected * 100)))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")
