"""The read-only resources: the catalog, jobs, usage, provider health, the timeline format, the
style presets and the guide. Registered by `server.py`, which hands over how to reach the running
studio (`current`) and the catalog (`catalog`, which works even when the ledger does not)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from reelforge.server_context import caller
from reelforge.studio.tool_schemas import JobList
from reelforge.timeline.spec import TimelineSpec

if TYPE_CHECKING:
    from reelforge.settings import Settings
    from reelforge.studio.core import Studio


def register_resources(mcp: MCPServer, current: Callable[[], Awaitable[Studio]],
                       catalog: Callable[[], Awaitable[tuple[Any, Settings]]]) -> None:
    @mcp.resource("reelforge://models", mime_type="application/json", title="Model catalog")
    async def models_resource() -> dict[str, Any]:
        from reelforge.studio.catalog_view import model_rows

        models, settings = await catalog()
        return {"models": model_rows(models, settings, include_retired=True)}

    @mcp.resource("reelforge://models/{provider}/{model}", mime_type="application/json", title="One model")
    async def model_resource(provider: str, model: str) -> dict[str, Any]:
        entry = (await catalog())[0].find(provider, model)
        if entry is None:
            raise ResourceNotFoundError(f"No model {provider}/{model}")
        return entry.model_dump(mode="json")

    @mcp.resource("reelforge://jobs", mime_type="application/json", title="Recent jobs")
    async def jobs_resource() -> dict[str, Any]:
        from reelforge.studio.ownership import visible_jobs
        from reelforge.studio.views import job_view

        jobs = visible_jobs(await current(), caller(), limit=50)
        return JobList(jobs=[job_view(j) for j in jobs]).model_dump(mode="json")

    @mcp.resource("reelforge://jobs/{id}", mime_type="application/json", title="Job status")
    async def job_resource(id: str) -> dict[str, Any]:
        from reelforge.errors import JobNotFound
        from reelforge.studio.ownership import visible_job
        from reelforge.studio.views import job_view

        try:
            job = visible_job(await current(), id, caller())
        except JobNotFound:
            raise ResourceNotFoundError(f"No job {id}") from None
        return job_view(job).model_dump(mode="json")

    @mcp.resource("reelforge://usage", mime_type="application/json", title="Today's usage and limits")
    async def usage_resource() -> dict[str, Any]:
        from reelforge.studio.usage import usage_report

        return usage_report(await current(), caller())

    @mcp.resource("reelforge://health", mime_type="application/json", title="Provider health from the ledger")
    async def health_resource() -> dict[str, Any]:
        from reelforge.studio.health import health

        return health(await current()).view()

    @mcp.resource("reelforge://timeline", mime_type="application/json", title="Timeline format (JSON Schema)")
    def timeline_format() -> dict[str, Any]:
        # The full, described schema: tools/list carries compose_timeline's fields without the prose.
        return TimelineSpec.model_json_schema()

    @mcp.resource("reelforge://styles", mime_type="application/json", title="Style presets and prompt parts")
    def styles_resource() -> dict[str, Any]:
        from reelforge.studio.styles import styles_document

        return styles_document()

    @mcp.resource("reelforge://guide", mime_type="text/markdown", title="How to use reelforge")
    def guide() -> str:
        from reelforge.tool_results import usage_guide

        return usage_guide()
