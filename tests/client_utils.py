"""`make_client(settings)`: a fresh in-memory MCP `Client` on a server built for those settings.

A module of its own (not conftest) so test files in any folder can import it by one unambiguous name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp import Client

from reelforge.server import build_server
from reelforge.settings import Settings


@asynccontextmanager
async def make_client(settings: Settings, **kwargs: object) -> AsyncIterator[Client]:
    async with Client(build_server(settings), raise_exceptions=True, **kwargs) as client:
        yield client
