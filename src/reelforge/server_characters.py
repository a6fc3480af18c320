"""Characters on the MCP surface: the save_character tool and the reelforge://characters resources.

Kept beside `server.py` (which registers them) so the server module stays one screen per concern;
the store itself is `studio/characters.py`, shared with the CLI. Everything here is the caller's own:
on a shared service each user sees and saves only their own characters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.types import ToolAnnotations
from pydantic import Field

from reelforge.server_context import caller, studio_of

if TYPE_CHECKING:
    from reelforge.studio.core import Studio



def register_characters(mcp: MCPServer, current: Callable[[], Awaitable[Studio]]) -> None:
    # Lean on purpose (every conversation pays for tools/list): the name rule and the lengths are checked,
    # with their hints, by the store. Annotated like every tool (hosts decide on approval from them): it
    # writes only under the home, replaces a character of the same name, and the same call gives the same.
    @mcp.tool(title="Save a character", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False))
    async def save_character(
        name: str,
        images: Annotated[list[str | dict[str, Any]], Field(min_length=1, max_length=9,
                                                             description="Paths, or {job_id, at_s}.")],
        ctx: Context,
        description: str | None = None,
        voice: str | None = None,
    ) -> dict[str, Any]:
        """Name reference images for generate_video's characters (replaces that name)."""
        from reelforge.studio import characters
        from reelforge.studio.caller import acting_as

        studio = await studio_of(ctx)
        user = caller()

        def save() -> dict[str, Any]:
            with acting_as(user):
                return characters.save(studio, name, images, description or "", voice).view()

        return await anyio.to_thread.run_sync(save)

    @mcp.resource("reelforge://characters", mime_type="application/json", title="Saved characters")
    async def characters_resource() -> dict[str, Any]:
        from reelforge.studio import characters
        from reelforge.studio.caller import acting_as

        studio = await current()
        with acting_as(caller()):
            return {"characters": [c.view() for c in characters.list_all(studio.settings)]}

    @mcp.resource("reelforge://characters/{name}", mime_type="application/json", title="One character")
    async def character_resource(name: str) -> dict[str, Any]:
        from reelforge.errors import InvalidRequest
        from reelforge.studio import characters
        from reelforge.studio.caller import acting_as

        studio = await current()
        with acting_as(caller()):
            try:
                return characters.get(studio.settings, name).view()
            except InvalidRequest as exc:
                raise ResourceNotFoundError(exc.message) from None
