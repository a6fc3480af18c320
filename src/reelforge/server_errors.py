"""The MCP surface's error wording, at the one place every tool call passes.

A `ReelforgeError` raised by any tool (or its approval question) becomes the tool error the calling
model reads, `[code] message` and the hint. Arguments that fail a tool's input schema are reported field by field (never pydantic's dump with
documentation links); an unexpected exception that is really the environment (disk full, a
read-only home, an image too large to decode) says so and what to do. Real bugs stay generic:
the SDK logs them and shows only the tool's name.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError

from reelforge.errors import ReelforgeError, explain, to_tool_message, validation_text
from reelforge.redact import redact
from reelforge.surface_schema import slim_input, slim_output

log = logging.getLogger(__name__)


class ReelforgeServer(MCPServer):
    """The SDK's server with reelforge's error wording and a lean `tools/list` (see surface_schema)."""

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        return [t.model_copy(update={
            "description": " ".join((t.description or "").split()) or None,  # docstring indentation is noise
            "input_schema": slim_input(t.input_schema, t.name),
            "output_schema": None if t.output_schema is None else slim_output(t.output_schema),
        }) for t in tools]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            if isinstance(exc.__cause__, ReelforgeError):  # every refusal, mapped here once for all tools
                raise ToolError(f"Error executing tool {name}: {to_tool_message(exc.__cause__)}") from None
            explained = explain(exc.__cause__) if exc.__cause__ is not None else None
            if explained is None:
                raise
            log.warning("tool %s failed: %s", name, type(exc.__cause__).__name__)
            raise ToolError(f"Error executing tool {name}: {to_tool_message(explained)}") from None
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            raise ToolError(  # chained to the ValidationError: the SDK then logs field names only
                f"Error executing tool {name}: [bad_request] {validation_text(exc.__cause__)}. "
                "Fix these arguments (see the tool's input schema) and call again."
            ) from exc.__cause__


def startup_error(exc: Exception) -> str:
    """Why the studio could not start, for the tools to report (and `reelforge doctor` to detail)."""
    if isinstance(exc, ValidationError):  # a bad REELFORGE_* value: name the variable, not pydantic's dump
        return f"[bad_settings] {validation_text(exc)}; fix it in the MCP host's 'env' block and restart"
    explained = explain(exc)  # e.g. a read-only home: say so, with the fix
    return to_tool_message(explained) if explained is not None else redact(f"{type(exc).__name__}: {exc}")
