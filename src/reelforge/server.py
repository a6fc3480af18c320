"""The MCP surface: tools, resources and prompts, and nothing the CLI would need again.

Every work-starting tool waits at most `wait_seconds` (hosts give up near 60 s), sending progress
notifications meanwhile, then returns the job: finished (structured job, a text line with the
absolute path, the poster inline, a resource link) or still running (a handle to pick up with
`get_job`). Failures are `ToolError`s with messages the calling model can act on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from reelforge import __version__
from reelforge.jobs.status import JobKind, JobStatus
from reelforge.approval import CostApproval, approve_batch, approve_compose, approve_extend, approve_generate, approve_loop
from reelforge.prompts import register_prompts
from reelforge.server_app import APP_META, app_extension, register_app_resources
from reelforge.server_characters import register_characters
from reelforge.server_resources import register_resources
from reelforge.server_context import caller, studio_of
from reelforge.server_errors import ReelforgeServer, startup_error
from reelforge.server_tasks import ReelforgeTasks, started_as_task
from reelforge.server_updates import JobUpdates
from reelforge.studio.tool_schemas import BatchRequest, ComposeRequest, ExtendRequest, GenerateRequest, JobList, JobView, LoopRequest, Quote

if TYPE_CHECKING:
    from reelforge.settings import Settings
    from reelforge.studio.core import Studio

#: How long a tool call waits for the studio to finish starting in the background.
STARTUP_WAIT_S = 60.0
#: The studio starts loading this long after the server starts (or at the first request, if sooner),
#: so its imports do not compete with the handshake for the interpreter.
BOOT_DELAY_S = 0.25

log = logging.getLogger(__name__)


INSTRUCTIONS = (
    "reelforge makes video files. Start work with generate_video, extend_video, make_loop or compose_timeline; "
    "each waits up to wait_seconds, then returns a job handle: call get_job(job_id, wait_seconds=40) until "
    "status is succeeded, and never start the same paid job twice (pass an idempotency_key). Quote first with "
    "estimate_cost. The 'preview' provider is a free offline animatic, labelled as a preview."
)


class AppState:
    """The running studio, built in the background so the handshake is not kept waiting."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.wanted = anyio.Event()
        self.ready = anyio.Event()
        self.settings = settings
        self.studio: Studio | None = None
        self.error: str | None = None

    async def get(self) -> Studio:
        self.wanted.set()  # a request is waiting: start loading now rather than after the delay
        with anyio.move_on_after(STARTUP_WAIT_S):
            await self.ready.wait()
        if self.studio is None:
            raise ToolError(f"[startup_failed] reelforge could not start: {self.error or 'still starting'}. "
                            "Run `reelforge doctor` to see why.")
        return self.studio

    async def catalog(self) -> tuple[Any, Settings]:
        """The catalog and settings, from the studio when it runs, else loaded directly: reading the
        catalog needs no ledger, so an unusable home does not hide the models."""
        try:
            studio = await self.get()
        except ToolError:
            return await anyio.to_thread.run_sync(_catalog_only, self.settings)
        return studio.catalog, studio.settings


def _catalog_only(settings: Settings | None) -> tuple[Any, Settings]:
    from reelforge.providers.registry import load_catalog
    from reelforge.settings import Settings

    return load_catalog(), settings or Settings()


def _make_studio(settings: Settings | None) -> Studio:
    from reelforge.redact import remember_settings
    from reelforge.settings import Settings
    from reelforge.studio.operations import open_studio

    settings = settings or Settings()
    remember_settings(settings)  # its secrets join the log redaction before anything uses them
    return open_studio(settings)


PAID = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
# destructiveHint is meaningful only when readOnlyHint is false (MCP spec), so read-only tools omit it.
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


class Estimate(BaseModel):
    quotes: list[Quote] = Field(description="One quote, or every eligible model ranked by the route.")
    currency: str = "USD"
    route: str | None = None
    #: With compare: each ranked model's expected time (measured p50 once known) and quality tier.
    ranking: list[dict[str, Any]] = Field(default_factory=list)
    #: With compare: every other model and why it cannot serve the request.
    excluded: list[dict[str, str]] = Field(default_factory=list)


class ModelList(BaseModel):
    models: list[dict[str, Any]]


def build_server(settings: Settings | None = None, **auth: Any) -> MCPServer:
    """A server bound to `settings` (default: read from the environment when it starts).

    `auth` takes `token_verifier=` and `auth=` for the HTTP transport (see `http_app`).
    """

    box: list[AppState] = []  # the live state, for static resources (which get no Context)
    bus = InMemorySubscriptionBus()  # `subscriptions/listen` streams; job updates publish on it
    updates = JobUpdates(bus)

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[AppState]:
        state = AppState(settings)
        box.append(state)
        try:
            async with anyio.create_task_group() as tg:

                async def boot() -> None:
                    # Imports, the catalog and the ledger load off the event loop: the handshake is
                    # answered meanwhile, and tools wait for `ready`. The runner then resumes jobs.
                    with anyio.move_on_after(BOOT_DELAY_S):
                        await state.wanted.wait()
                    try:
                        studio = await anyio.to_thread.run_sync(_make_studio, settings)
                        await tg.start(studio.runner.serve)
                        from reelforge.studio.recover import recover_all

                        tg.start_soon(recover_all, studio)  # jobs whose create answer was lost, found again
                        tg.start_soon(updates.serve, studio)  # subscribers hear of job changes
                        state.studio = studio  # only a studio whose runner is serving is handed out
                    except Exception as exc:
                        log.exception("reelforge failed to start")
                        state.error = startup_error(exc)
                    finally:
                        state.ready.set()

                tg.start_soon(boot)
                try:
                    yield state
                finally:
                    tg.cancel_scope.cancel()
        finally:
            box.remove(state)
            if state.studio is not None:
                await state.studio.aclose()

    mcp = ReelforgeServer("reelforge", title="reelforge", version=__version__, instructions=INSTRUCTIONS,
                    lifespan=lifespan, subscriptions=bus, extensions=[app_extension(), ReelforgeTasks()], **auth)
    updates.install(mcp)
    _register_tools(mcp)
    _register_resources(mcp, box)
    return mcp


async def _await_job(ctx: Context, studio: Studio, job_id: str, wait_seconds: float | None) -> CallToolResult:
    """Wait (bounded) with progress notifications, then shape the job as a tool result."""
    seconds = studio.settings.wait_seconds if wait_seconds is None else wait_seconds
    last = 0.0

    async def on_change(job: Any) -> None:
        nonlocal last
        value = _next_progress(last, job.progress, job.status.terminal)
        if value is None:
            return
        last = value
        await ctx.report_progress(value, 100.0, job.stage or job.status.value)

    from reelforge.tool_results import result_of

    return result_of(studio, await studio.wait(job_id, seconds, on_change))


def _next_progress(last: float, fraction: float | None, terminal: bool) -> float | None:
    """The next progress value to send, strictly above `last` (MCP requires it), or None.

    100 is sent only when the job has ended; until then the value creeps toward 99.9, so every change
    and heartbeat still moves it (heartbeats keep some hosts' timers alive).
    """
    if last >= 100.0:
        return None
    if terminal:
        return 100.0
    target = min((fraction or 0.0) * 100.0, 99.0)
    return target if target > last else last + (99.9 - last) * 0.02


async def _start_work(ctx: Context, kind: JobKind, request: Any, approval: CostApproval) -> CallToolResult:
    """Start a job (prepared by the approval question, or now), then wait for it, bounded."""
    from reelforge.studio.caller import acting_as
    from reelforge.studio.operations import OPERATIONS

    studio = await studio_of(ctx)
    prepared = request._prepared
    if approval.approve:
        request = request.model_copy(update={"confirm": True})
    with acting_as(caller()):
        job = await OPERATIONS[kind].start(studio, request, prepared)
    if started_as_task(job.id):  # the row is committed: a task-aware client polls tasks/get instead
        return await _await_job(ctx, studio, job.id, 0)
    return await _await_job(ctx, studio, job.id, request.wait_seconds)


def _register_tools(mcp: MCPServer) -> None:
    # Tool bodies import the studio lazily: it loads in the background while the handshake is answered.
    # A ReelforgeError raised by a tool becomes its ToolError in one place (ReelforgeServer.call_tool).

    @mcp.tool(title="Generate a video", meta=APP_META, annotations=PAID)
    async def generate_video(
        request: GenerateRequest, ctx: Context,
        approval: Annotated[CostApproval, Resolve(approve_generate)],
    ) -> Annotated[CallToolResult, JobView]:
        """Text- or image-to-video, any provider ('preview': free, offline). Returns the job."""
        return await _start_work(ctx, "generate", request, approval)

    @mcp.tool(title="Estimate the cost", meta=APP_META, annotations=READ_ONLY)
    async def estimate_cost(request: GenerateRequest, ctx: Context, compare: bool = False) -> Estimate:
        """Quote a generation before paying; compare=true ranks eligible models by the route and
        says why others are excluded."""
        from reelforge.studio.caller import acting_as
        from reelforge.studio.generate import estimate, estimate_view

        studio = await studio_of(ctx)
        with acting_as(caller()):  # the caller's own keys count as keys
            quotes, routed = await anyio.to_thread.run_sync(lambda: estimate(studio, request, compare=compare))
        return Estimate(quotes=quotes, **estimate_view(routed))

    @mcp.tool(title="Extend a video", meta=APP_META, annotations=PAID)
    async def extend_video(
        request: ExtendRequest, ctx: Context,
        approval: Annotated[CostApproval, Resolve(approve_extend)],
    ) -> Annotated[CallToolResult, JobView]:
        """Continue a clip: native extend, else last frame -> image-to-video -> seamless join."""
        return await _start_work(ctx, "extend", request, approval)

    @mcp.tool(title="Make a seamless loop", meta=APP_META, annotations=PAID)
    async def make_loop(
        request: LoopRequest, ctx: Context,
        approval: Annotated[CostApproval, Resolve(approve_loop)],
    ) -> Annotated[CallToolResult, JobView]:
        """Make a seamless loop from a clip, or generate one; reports the measured seam score."""
        return await _start_work(ctx, "loop", request, approval)

    @mcp.tool(title="Compose a timeline", meta=APP_META, annotations=PAID)
    async def compose_timeline(
        request: ComposeRequest, ctx: Context,
        approval: Annotated[CostApproval, Resolve(approve_compose)],
    ) -> Annotated[CallToolResult, JobView]:
        """Render clips, transitions, audio bed and titles into one MP4 (+ .otio)."""
        return await _start_work(ctx, "compose", request, approval)

    @mcp.tool(title="Generate a batch", meta=APP_META, annotations=PAID)
    async def generate_batch(
        request: BatchRequest, ctx: Context,
        approval: Annotated[CostApproval, Resolve(approve_batch)],
    ) -> Annotated[CallToolResult, JobView]:
        """Many generations, or one prompt across providers: one quote, one comparison sheet."""
        return await _start_work(ctx, "batch", request, approval)

    @mcp.tool(title="Get a job", meta=APP_META, annotations=READ_ONLY)
    async def get_job(
        job_id: Annotated[str, Field(description="The job id from a previous call.")],
        ctx: Context,
        wait_seconds: Annotated[float, Field(ge=0, le=300, description="Wait up to this long for it to finish.")] = 0,
    ) -> Annotated[CallToolResult, JobView]:
        """A job's status, cost and result; can wait (bounded) for it."""
        from reelforge.studio.ownership import visible_job

        studio = await studio_of(ctx)
        visible_job(studio, job_id, caller())
        return await _await_job(ctx, studio, job_id, wait_seconds)

    @mcp.tool(title="List jobs", annotations=READ_ONLY)
    async def list_jobs(
        ctx: Context,
        status: Annotated[JobStatus | None, Field(description="Only jobs with this status.")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> JobList:
        """Recent jobs, newest first."""
        from reelforge.studio.views import job_view

        from reelforge.studio.ownership import visible_jobs

        studio = await studio_of(ctx)
        jobs = visible_jobs(studio, caller(), status=status and status.value, limit=limit)
        return JobList(jobs=[job_view(j) for j in jobs])

    @mcp.tool(
        title="Cancel a job",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True),
    )
    async def cancel_job(job_id: Annotated[str, Field(description="The job to stop.")], ctx: Context) -> JobView:
        """Stop a job (at the provider where its API allows); keeps the record."""
        from reelforge.studio.ownership import visible_job
        from reelforge.studio.views import job_view

        studio = await studio_of(ctx)
        return job_view(await studio.cancel(visible_job(studio, job_id, caller()).id))

    @mcp.tool(title="List models", annotations=READ_ONLY)
    async def list_models(
        ctx: Context,
        provider: Annotated[str | None, Field(description="Only this provider.")] = None,
        input: Annotated[Literal["text", "image", "first_last", "video", "reference"] | None,
                         Field(description="Only models accepting this input.")] = None,
        include_retired: bool = False,
    ) -> ModelList:
        """Every model with its inputs, price (source, date), status, readiness and measured health."""
        from reelforge.studio.catalog_view import model_rows
        from reelforge.studio.health import health

        state = ctx.request_context.lifespan_context
        catalog, settings = await state.catalog()
        # Measured health where the ledger is up; an unusable home still lists the models.
        seen = await anyio.to_thread.run_sync(health, state.studio) if state.studio is not None else None
        return ModelList(models=model_rows(catalog, settings, provider=provider, input_kind=input,
                                           include_retired=include_retired, health=seen))


def _register_resources(mcp: MCPServer, box: list[AppState]) -> None:
    async def current() -> Studio:
        if not box:
            raise ResourceNotFoundError("reelforge is not running")
        try:
            return await box[-1].get()
        except ToolError as exc:
            raise ResourceNotFoundError(str(exc)) from exc

    async def catalog() -> tuple[Any, Settings]:
        if not box:
            raise ResourceNotFoundError("reelforge is not running")
        return await box[-1].catalog()

    register_resources(mcp, current, catalog)
    register_prompts(mcp)
    register_characters(mcp, current)
    register_app_resources(mcp, current)


def main() -> None:  # pragma: no cover - `python -m reelforge.server`, same as `reelforge serve`
    from reelforge.logs import install_log_redaction

    install_log_redaction()  # the same log redaction as `reelforge serve`
    build_server().run()


if __name__ == "__main__":  # pragma: no cover
    main()
