"""What a tool call knows about itself: the running studio, and the user behind the request.

The user is a tiers-file user over HTTP (their token's access carries `USER_SCOPE` and their name);
None on stdio, and for the operator's own token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp.server.mcpserver import Context

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

#: The scope a tiers-file user's token carries (`http_app`); its client id is the user's name.
USER_SCOPE = "reelforge:user"


async def studio_of(ctx: Context) -> Studio:
    return await ctx.request_context.lifespan_context.get()


def caller() -> str | None:
    """The tiers-file user behind this HTTP request, or None (stdio, or the operator's own token)."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    token = get_access_token()
    return token.client_id if token is not None and USER_SCOPE in token.scopes else None
